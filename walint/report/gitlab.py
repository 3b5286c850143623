"""GitLab Code Quality: the JSON report a merge request widget reads (a Code Climate subset)."""

from __future__ import annotations

import json
from typing import Sequence

from walint.findings import Finding
from walint.report.context import ReportContext, relative_posix, stable_fingerprints


def render(findings: Sequence[Finding], context: ReportContext) -> str:
    issues = [
        {
            "description": f"{finding.code}: {finding.message}",
            "check_name": finding.code,
            "fingerprint": fingerprint,
            "severity": "major",
            "location": {
                "path": relative_posix(finding.path),
                "positions": {
                    "begin": {"line": finding.location.row, "column": finding.location.column},
                    "end": {"line": finding.end_location.row, "column": finding.end_location.column},
                },
            },
        }
        for finding, fingerprint in zip(findings, stable_fingerprints(findings))
    ]
    return json.dumps(issues, indent=2) + "\n"

"""GitLab Code Quality: the JSON report a merge request widget reads (a Code Climate subset)."""

from __future__ import annotations

import hashlib
import json
from typing import Sequence

from walint.findings import Finding
from walint.report.context import CHECK_ERROR_CODE, ReportContext, relative_posix, stable_fingerprints


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
    # A file that could not be checked is an issue on its first line: a merge request must
    # not show a clean report for code nobody looked at.
    errors = [
        {
            "description": f"{CHECK_ERROR_CODE}: could not be checked: {problem}",
            "check_name": CHECK_ERROR_CODE,
            "fingerprint": hashlib.sha256(f"{relative_posix(path)}\0{CHECK_ERROR_CODE}\0{problem}".encode()).hexdigest(),
            "severity": "critical",
            "location": {"path": relative_posix(path), "lines": {"begin": 1}},
        }
        for path, problem in context.errors
    ]
    return json.dumps(errors + issues, indent=2) + "\n"

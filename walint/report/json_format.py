"""JSON output in ruff's shape, so tools that read ``ruff --output-format json`` read ours."""

from __future__ import annotations

import json
from typing import List, Optional, Sequence

from walint.findings import Finding, Fix
from walint.report.context import CHECK_ERROR_CODE, ReportContext

# Relative to the repository root, where `rules/` holds one page per rule.
DOCS_URL = "rules/{code}.md"


def _fix(fix: Optional[Fix]) -> Optional[dict]:
    if fix is None:
        return None
    return {
        "applicability": fix.applicability,
        "message": fix.message,
        "edits": [
            {
                "content": edit.content,
                "location": {"row": edit.location.row, "column": edit.location.column},
                "end_location": {"row": edit.end_location.row, "column": edit.end_location.column},
            }
            for edit in fix.edits
        ],
    }


def as_dict(finding: Finding) -> dict:
    return {
        "code": finding.code,
        "message": finding.message,
        "filename": finding.path,
        "location": {"row": finding.location.row, "column": finding.location.column},
        "end_location": {"row": finding.end_location.row, "column": finding.end_location.column},
        "fix": _fix(finding.fix),
        "url": DOCS_URL.format(code=finding.code),
        "noqa_row": finding.location.row,
    }


def error_dict(path: str, problem: str) -> dict:
    """A file that could not be checked, as ruff reports an io-error (E902): at 1:1, no fix."""
    return {
        "code": CHECK_ERROR_CODE,
        "message": problem,
        "filename": path,
        "location": {"row": 1, "column": 1},
        "end_location": {"row": 1, "column": 1},
        "fix": None,
        "url": None,
        "noqa_row": None,
    }


def entries(findings: Sequence[Finding], context: ReportContext) -> List[dict]:
    """The findings and the files that could not be checked, in path order."""
    rows = [((path, 0), error_dict(path, problem)) for path, problem in context.errors]
    rows += [((f.path, 1), as_dict(f)) for f in findings]
    return [row for _, row in sorted(rows, key=lambda item: item[0])]


def render(findings: Sequence[Finding], context: ReportContext) -> str:
    return json.dumps(entries(findings, context), indent=2) + "\n"

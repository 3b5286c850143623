"""GitHub Actions workflow commands: each finding becomes an annotation on the pull request.

    ::error file=src/store.py,line=6,col=9,endLine=6,endColumn=51,title=WAL001::Rollback ...
"""

from __future__ import annotations

from typing import Sequence

from walint.console import printable
from walint.findings import Finding
from walint.report.context import CHECK_ERROR_CODE, ReportContext, relative_posix


def _escape_data(text: str) -> str:
    # A raw newline would forge another command; other control characters would reach the log.
    return printable(text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A"), tabs=True)


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def format_finding(finding: Finding) -> str:
    properties = {
        "file": relative_posix(finding.path),
        "line": finding.location.row,
        "col": finding.location.column,
        "endLine": finding.end_location.row,
        "endColumn": finding.end_location.column,
        "title": finding.code,
    }
    joined = ",".join(f"{key}={_escape_property(str(value))}" for key, value in properties.items())
    return f"::error {joined}::{_escape_data(finding.message)}"


def format_error(path: str, problem: str) -> str:
    """A file that could not be checked: an annotation on the file, not on a line."""
    properties = {"file": relative_posix(path), "title": CHECK_ERROR_CODE}
    joined = ",".join(f"{key}={_escape_property(value)}" for key, value in properties.items())
    return f"::error {joined}::{_escape_data(f'could not be checked: {problem}')}"


def render(findings: Sequence[Finding], context: ReportContext) -> str:
    errors = [format_error(path, problem) for path, problem in context.errors]
    return "".join(line + "\n" for line in errors + [format_finding(f) for f in findings])

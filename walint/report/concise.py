"""One line a finding, ``path:line:col: CODE [*] message``, then a summary (ruff's shape)."""

from __future__ import annotations

from typing import Sequence

from walint.console import printable
from walint.findings import Finding
from walint.report.context import ReportContext


def format_finding(finding: Finding, context: ReportContext) -> str:
    paint = context.paint
    location = f"{printable(finding.path)}:{finding.location.row}:{finding.location.column}:"
    marker = " " + paint("[*]", "cyan") if finding.fix is not None and finding.fix.is_safe else ""
    return f"{paint(location, 'bold')} {paint(finding.code, 'bold', 'red')}{marker} {printable(finding.message)}"


def summary(findings: Sequence[Finding]) -> str:
    if not findings:
        return "All checks passed!"
    noun = "error" if len(findings) == 1 else "errors"
    lines = [f"Found {len(findings)} {noun}."]
    fixable = sum(1 for f in findings if f.fix is not None and f.fix.is_safe)
    hidden = sum(1 for f in findings if f.fix is not None and not f.fix.is_safe)
    if fixable or hidden:
        more = f" ({hidden} more with `walint fix --unsafe-fixes`)" if hidden else ""
        lines.append(f"[*] {fixable} fixable with `walint fix`{more}.")
    return "\n".join(lines)


def render(findings: Sequence[Finding], context: ReportContext) -> str:
    lines = [format_finding(f, context) for f in findings]
    if context.show_summary:
        lines.append(summary(findings))
    return "".join(line + "\n" for line in lines)

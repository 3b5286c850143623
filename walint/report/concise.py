"""One line a finding, ``path:line:col: CODE [*] message``, then a summary (ruff's shape)."""

from __future__ import annotations

from typing import Sequence

from walint.console import printable
from walint.findings import Finding
from walint.report.context import ReportContext, plural


def format_finding(finding: Finding, context: ReportContext) -> str:
    paint = context.paint
    location = f"{printable(finding.path)}:{finding.location.row}:{finding.location.column}:"
    marker = " " + paint("[*]", "cyan") if finding.fix is not None and finding.fix.is_safe else ""
    return f"{paint(location, 'bold')} {paint(finding.code, 'bold', 'red')}{marker} {printable(finding.message)}"


def fix_hint(fixable: int, hidden: int) -> str:
    """ruff's line about what ``--fix`` would do, or "" when no fix is available at all."""
    hidden_text = (
        f"{plural(hidden, 'hidden fix', 'hidden fixes')} can be enabled with the `--unsafe-fixes` option"
    )
    if fixable:
        return f"[*] {fixable} fixable with the `--fix` option" + (f" ({hidden_text})." if hidden else ".")
    return f"No fixes available ({hidden_text})." if hidden else ""


def summary(findings: Sequence[Finding], unchecked: int = 0, unsafe_fixes: bool = False) -> str:
    """The closing lines: the count, what ``--fix`` would do, and the files not checked.

    A run that could not check a file never says "All checks passed!".
    """
    if not findings and not unchecked:
        return "All checks passed!"
    lines = [f"Found {plural(len(findings), 'error')}."] if findings else []
    fixable = sum(1 for f in findings if f.fix is not None and (f.fix.is_safe or unsafe_fixes))
    hidden = sum(1 for f in findings if f.fix is not None and not f.fix.is_safe and not unsafe_fixes)
    hint = fix_hint(fixable, hidden)
    if hint:
        lines.append(hint)
    if unchecked:
        lines.append(f"{plural(unchecked, 'file')} could not be checked (see the errors above).")
    return "\n".join(lines)


def render(findings: Sequence[Finding], context: ReportContext) -> str:
    lines = [format_finding(f, context) for f in findings]
    if context.show_summary:
        lines.append(summary(findings, len(context.errors), context.unsafe_fixes))
    return "".join(line + "\n" for line in lines)

"""Human-readable output in ruff's shape: ``path:line:col: CODE message`` and a summary."""

from __future__ import annotations

from typing import Sequence

from walint.findings import Finding


def format_finding(finding: Finding) -> str:
    marker = " [*]" if finding.fix is not None else ""
    return (
        f"{finding.path}:{finding.location.row}:{finding.location.column}: "
        f"{finding.code}{marker} {finding.message}"
    )


def summary(findings: Sequence[Finding]) -> str:
    if not findings:
        return "All checks passed!"
    noun = "error" if len(findings) == 1 else "errors"
    lines = [f"Found {len(findings)} {noun}."]
    fixable = sum(1 for f in findings if f.fix is not None)
    if fixable:
        lines.append(f"[*] {fixable} fixable with `walint fix`.")
    return "\n".join(lines)


def render_concise(findings: Sequence[Finding]) -> str:
    lines = [format_finding(f) for f in findings]
    lines.append(summary(findings))
    return "\n".join(lines) + "\n"


def render_full(findings: Sequence[Finding]) -> str:
    # The code frame arrives with the configuration work; until then full is concise.
    return render_concise(findings)

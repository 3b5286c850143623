"""``--statistics``: how many findings each rule produced, most frequent first."""

from __future__ import annotations

import json
from collections import Counter
from typing import List, Sequence, Tuple

from walint.findings import Finding
from walint.report import concise
from walint.report.context import ReportContext


def _counts(findings: Sequence[Finding], context: ReportContext) -> List[Tuple[str, str, int, bool]]:
    counts = Counter(f.code for f in findings)
    fixable = {f.code for f in findings if f.fix is not None}
    return [
        (code, context.rules[code].name if code in context.rules else "", count, code in fixable)
        for code, count in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    ]


def render_text(findings: Sequence[Finding], context: ReportContext) -> str:
    rows = _counts(findings, context)
    width = max((len(str(count)) for _, _, count, _ in rows), default=1)
    lines = [
        f"{str(count).rjust(width)}\t{context.paint(code, 'bold', 'red')}\t{'[*]' if fixable else '[ ]'} {name}"
        for code, name, count, fixable in rows
    ]
    if context.show_summary:
        lines.append(concise.summary(findings, len(context.errors), context.unsafe_fixes))
    return "".join(line + "\n" for line in lines)


def render_json(findings: Sequence[Finding], context: ReportContext) -> str:
    rows = [
        {"code": code, "name": name, "count": count, "fixable": fixable}
        for code, name, count, fixable in _counts(findings, context)
    ]
    return json.dumps(rows, indent=2) + "\n"

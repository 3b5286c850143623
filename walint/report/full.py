"""The default output: each finding, the lines around it with the spot marked, and its fix.

    store.py:6:9: WAL001 Rollback journal mode `DELETE` set on an error path ...
      |
    5 |     except sqlite3.OperationalError:
    6 |         conn.execute("PRAGMA journal_mode=DELETE")
      |         ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^ WAL001
      |
      = help: Replace the fallback with `apply_wal_with_fallback`
"""

from __future__ import annotations

import unicodedata
from typing import List, Sequence

from walint.console import printable
from walint.findings import Finding
from walint.report import concise
from walint.report.context import ReportContext

# Lines shown above the reported one.
CONTEXT_LINES = 1
TAB = "    "


def _width(text: str) -> int:
    """Terminal cells ``text`` takes: wide East Asian characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def code_frame(finding: Finding, lines: Sequence[str], context: ReportContext) -> List[str]:
    """The quoted source with the reported columns underlined; empty if the line is gone."""
    row = finding.location.row
    if not 1 <= row <= len(lines):
        return []
    first = max(1, row - CONTEXT_LINES)
    gutter = len(str(row))
    paint = context.paint
    bar = paint(" " * gutter + " |", "blue", "bold")
    frame = [bar]
    for number in range(first, row + 1):
        text = printable(lines[number - 1].replace("\t", TAB))
        frame.append(f"{paint(str(number).rjust(gutter) + ' |', 'blue', 'bold')} {text}".rstrip())
    line = lines[row - 1]
    start = finding.location.column - 1
    end = finding.end_location.column - 1 if finding.end_location.row == row else len(line)
    indent = _width(printable(line[:start].replace("\t", TAB)))
    length = max(1, _width(printable(line[start:end].replace("\t", TAB))))
    frame.append(f"{bar} {' ' * indent}{paint('^' * length + ' ' + finding.code, 'red', 'bold')}")
    frame.append(bar)
    return frame


def render(findings: Sequence[Finding], context: ReportContext) -> str:
    blocks = []
    for finding in findings:
        block = [concise.format_finding(finding, context)]
        block += code_frame(finding, context.source_lines(finding.path), context)
        pad = " " * (len(str(finding.location.row)) + 1)
        if finding.fix is not None:
            unsafe = "" if finding.fix.is_safe else " (unsafe: `walint fix --unsafe-fixes`)"
            block.append(f"{pad}= {context.paint('help', 'cyan', 'bold')}: {printable(finding.fix.message)}{unsafe}")
        elif finding.no_fix_reason:
            block.append(f"{pad}= {context.paint('note', 'bold')}: {printable(finding.no_fix_reason)}")
        blocks.append("\n".join(block) + "\n")
    if context.show_summary:
        blocks.append(concise.summary(findings, len(context.errors), context.unsafe_fixes) + "\n")
    return "\n".join(blocks)

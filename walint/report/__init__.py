"""Output formats, one module each. A format turns findings into text and knows nothing
about LibCST: what else it needs (rule docs, source lines, colour) is in a ReportContext."""

from __future__ import annotations

from typing import Callable, Dict, Sequence

from walint.findings import Finding
from walint.report import concise, full, github, gitlab, json_format, json_lines, sarif
from walint.report.context import ReportContext, RuleInfo, SourceLines

Renderer = Callable[[Sequence[Finding], ReportContext], str]

FORMATS: Dict[str, Renderer] = {
    "full": full.render,
    "concise": concise.render,
    "json": json_format.render,
    "json-lines": json_lines.render,
    "sarif": sarif.render,
    "github": github.render,
    "gitlab": gitlab.render,
}

# The formats that show each fix's edits: only for them does `check` render fixes.
CARRIES_EDITS = frozenset({"json", "json-lines", "sarif"})

__all__ = ["CARRIES_EDITS", "FORMATS", "Renderer", "ReportContext", "RuleInfo", "SourceLines"]

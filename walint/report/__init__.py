"""Output formats: each module turns findings into text and knows nothing about LibCST."""

from __future__ import annotations

from typing import Callable, Dict, Sequence

from walint.findings import Finding
from walint.report import json_format, text

Renderer = Callable[[Sequence[Finding]], str]

FORMATS: Dict[str, Renderer] = {
    "full": text.render_full,
    "concise": text.render_concise,
    "json": json_format.render,
}

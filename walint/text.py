"""Source text the way Python reads it: its encoding (PEP 263, BOM) and its lines.

Python ends a line at ``\\r\\n``, ``\\r`` or ``\\n`` only; ``str.splitlines`` also splits at
form feeds and other separators, which would put comments and findings on the wrong line.
"""

from __future__ import annotations

import io
import re
import tokenize
from typing import List

LINE_BREAK_RE = re.compile(r"\r\n|\r|\n")
_LINE_RE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


def split_lines(text: str) -> List[str]:
    """The lines of ``text`` with their endings kept; joined, they give ``text`` back."""
    return _LINE_RE.findall(text)


def source_encoding(data: bytes) -> str:
    """The encoding a Python file declares (coding cookie or BOM), or UTF-8."""
    try:
        return tokenize.detect_encoding(io.BytesIO(data).readline)[0]
    except (SyntaxError, LookupError):
        return "utf-8"

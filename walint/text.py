"""Source text the way Python reads it: its encoding (PEP 263, BOM) and its lines.

Python ends a line at ``\\r\\n``, ``\\r`` or ``\\n`` only; ``str.splitlines`` also splits at
form feeds and other separators, which would put comments and findings on the wrong line.
"""

from __future__ import annotations

import codecs
import io
import re
import tokenize
import warnings
from contextlib import contextmanager
from typing import Iterator, List

LINE_BREAK_RE = re.compile(r"\r\n|\r|\n")
# An identifier as it is written in source (ASCII).
IDENTIFIER_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_LINE_RE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


def split_lines(text: str) -> List[str]:
    """The lines of ``text`` with their endings kept; joined, they give ``text`` back."""
    return _LINE_RE.findall(text)


def source_encoding(data: bytes) -> str:
    """The encoding a Python file declares (coding cookie or BOM), or UTF-8.

    A cookie naming no codec, or a codec that does not decode bytes to text (``hex``,
    ``rot13``, ``uu_codec``: Python refuses those files), gives UTF-8 too, so that
    ``data.decode(source_encoding(data), errors="replace")`` never raises.
    """
    try:
        name = tokenize.detect_encoding(io.BytesIO(data).readline)[0]
    except (SyntaxError, LookupError):
        return "utf-8"
    return name if is_text_encoding(name) else "utf-8"


def is_text_encoding(name: str) -> bool:
    """Does ``name`` name a codec that decodes bytes to str (Python's own test for a cookie)?"""
    try:
        return getattr(codecs.lookup(name), "_is_text_encoding", True)
    except LookupError:
        return False


@contextmanager
def quiet_about_the_source() -> Iterator[None]:
    """Python warns while it compiles or evaluates code that is merely odd (an invalid
    escape like ``"\\d"``, ``is`` with a literal): as a SyntaxWarning on stderr from 3.12,
    as an error under ``-W error``. The code checked or fixed is not walint's to warn
    about, so those warnings are silenced while walint reads it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        yield

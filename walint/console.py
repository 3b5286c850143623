"""What walint prints for people: text made safe for a terminal, and warnings on stderr.

Paths, source lines and messages come from the checked tree, which may hold escape
sequences (clear the screen, set the window title, forge an "All checks passed!") or
newlines that forge report lines. Every human-facing format passes them through
:func:`printable`; the machine formats stay JSON-escaped instead.
"""

from __future__ import annotations

import re
import sys

# C0 and C1 control characters, DEL, and the bidirectional overrides and isolates that
# reorder how a line reads ("Trojan Source"). Tabs are left to the caller.
_UNPRINTABLE_RE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escape(match: "re.Match[str]") -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def printable(text: str, *, tabs: bool = False) -> str:
    """``text`` with control characters shown as escapes (``\\x1b``), tabs too unless
    ``tabs``; a surrogate from an undecodable file name shows as ``\\udcxx``."""
    text = _UNPRINTABLE_RE.sub(_escape, text)
    if not tabs:
        text = text.replace("\t", "\\t")
    if any("\ud800" <= ch <= "\udfff" for ch in text):
        text = "".join(f"\\u{ord(ch):04x}" if "\ud800" <= ch <= "\udfff" else ch for ch in text)
    return text


def warn(message: str) -> None:
    """``walint: warning: message`` on stderr."""
    sys.stderr.write(f"walint: warning: {printable(message)}\n")
    sys.stderr.flush()

"""Suppression comments: ``# noqa: WAL001`` and ``# walint: ignore[WAL001]``.

A comment suppresses the findings reported on its own line. This module reads such
comments and, for ``--report-unused-noqa`` (rule WAL100), says which of the codes a
comment names suppressed nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import AbstractSet, Optional, Tuple

NOQA_RE = re.compile(r"#\s*noqa(?::\s*(?P<codes>[A-Z]+[0-9]+(?:[\s,]+[A-Z]+[0-9]+)*))?", re.I)
IGNORE_RE = re.compile(r"#\s*walint:\s*ignore\[(?P<codes>[^\]]*)\]", re.I)

# Codes of other tools (E501, B008, ...) may share a `# noqa` with ours; only these are ours.
WALINT_PREFIX = "WAL"


@dataclass(frozen=True)
class Suppression:
    """One suppression comment: which form, and which codes it names (none: every code)."""

    form: str  # "noqa" or "walint: ignore"
    codes: Tuple[str, ...]

    def suppresses(self, code: str) -> bool:
        return not self.codes or code in self.codes

    def unused_codes(self, used: AbstractSet[str]) -> Tuple[str, ...]:
        """The walint codes this comment names that suppressed none of ``used``.

        A bare ``# noqa`` is never reported: it may be there for another linter. A bare
        ``# walint: ignore[]`` is ours alone, so it is unused when it suppressed nothing.
        """
        if not self.codes:
            return ("*",) if self.form == "walint: ignore" and not used else ()
        return tuple(
            code
            for code in dict.fromkeys(self.codes)
            if code.startswith(WALINT_PREFIX) and code not in used
        )


def parse_suppression(line: str) -> Optional[Suppression]:
    """The suppression comment on ``line``, if there is one."""
    match = IGNORE_RE.search(line)
    if match:
        codes = tuple(c.strip().upper() for c in match.group("codes").split(",") if c.strip())
        return Suppression("walint: ignore", codes)
    match = NOQA_RE.search(line)
    if match:
        codes_text = match.group("codes")
        codes = tuple(c.upper() for c in re.split(r"[\s,]+", codes_text) if c) if codes_text else ()
        return Suppression("noqa", codes)
    return None


def suppressed_codes(line: str) -> Optional[Tuple[str, ...]]:
    """Codes a comment on ``line`` suppresses; an empty tuple means all of them."""
    suppression = parse_suppression(line)
    return None if suppression is None else suppression.codes


def is_suppressed(code: str, line: str) -> bool:
    suppression = parse_suppression(line)
    return suppression is not None and suppression.suppresses(code)


def unused_message(suppression: Suppression, unused: Tuple[str, ...]) -> str:
    """The WAL100 message for a comment whose ``unused`` codes suppressed nothing."""
    if unused == ("*",):
        return f"Unused `{suppression.form}[]`: no finding on this line"
    names = ", ".join(f"`{code}`" for code in unused)
    what = "such finding" if len(unused) == 1 else "such findings"
    return f"Unused `{suppression.form}` for {names}: no {what} on this line"

"""Suppression comments: ``# noqa: WAL001`` and ``# walint: ignore[WAL001]``, each
suppressing the findings on its own line (every code there, when it names none).

Only a real comment counts, as the tokenizer sees it: ``"# noqa"`` inside a string
literal is text, not a suppression (:class:`LineComments`).
"""

from __future__ import annotations

import io
import re
import tokenize
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

NOQA_RE = re.compile(r"#\s*noqa(?::\s*(?P<codes>[A-Z]+[0-9]+(?:[\s,]+[A-Z]+[0-9]+)*))?", re.I)
# `# walint: ignore[WAL001, WAL002]`, or bare `# walint: ignore` for every code.
IGNORE_RE = re.compile(r"#\s*walint:\s*ignore(?:\[(?P<codes>[^\]]*)\]|(?![\w\[-]))", re.I)
# Could this line hold a suppression at all? Most reported lines do not: no tokenizing.
_MAY_SUPPRESS_RE = re.compile(r"#\s*(?:noqa|walint:)", re.I)


@dataclass(frozen=True)
class Suppression:
    """One suppression comment: which form, and which codes it names (none: every code)."""

    form: str  # "noqa" or "walint: ignore"
    codes: Tuple[str, ...]

    def suppresses(self, code: str) -> bool:
        return not self.codes or code in self.codes


def parse_suppression(line: str) -> Optional[Suppression]:
    """The suppression comment on ``line``, if there is one."""
    match = IGNORE_RE.search(line)
    if match:
        listed = match.group("codes")
        if listed is None:
            return Suppression("walint: ignore", ())
        codes = tuple(c.strip().upper() for c in listed.split(",") if c.strip())
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


class LineComments:
    """The comment on each line of one source, as the tokenizer sees it.

    ``suppression(row, line)`` first looks for a suppression-like text on the line with a
    regular expression; only when there is one is the source tokenized (once, for all
    its lines), so that ``"# noqa"`` in a string literal does not count. A source the
    tokenizer rejects (LibCST accepts a little more) falls back to the line's text.
    """

    def __init__(self, source: str) -> None:
        self._source = source
        self._comments: Optional[Dict[int, str]] = None
        self._failed = False

    def _by_row(self) -> Optional[Dict[int, str]]:
        if self._comments is None and not self._failed:
            comments: Dict[int, str] = {}
            try:
                # newline="": lines end at \r, \n or \r\n, as Python (and LINE_BREAK_RE) has it.
                readline = io.StringIO(self._source, newline="").readline
                for token in tokenize.generate_tokens(readline):
                    if token.type == tokenize.COMMENT:
                        comments[token.start[0]] = token.string
            except (tokenize.TokenError, SyntaxError, ValueError, RecursionError, MemoryError):
                self._failed = True
                return None
            self._comments = comments
        return self._comments

    def suppression(self, row: int, line: str) -> Optional[Suppression]:
        """The suppression comment on line ``row`` (1-based), whose text is ``line``."""
        if not _MAY_SUPPRESS_RE.search(line):
            return None
        comments = self._by_row()
        if comments is None:
            return parse_suppression(line)
        comment = comments.get(row)
        return parse_suppression(comment) if comment is not None else None

    def suppresses(self, row: int, line: str, code: str) -> bool:
        suppression = self.suppression(row, line)
        return suppression is not None and suppression.suppresses(code)

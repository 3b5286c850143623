"""Which SQLite error texts and codes are transient, and which are permanent WAL blockers.

A transient error (I/O hiccup, lock contention) says nothing about whether the
filesystem supports WAL, so it must never decide a downgrade; a permanent one
("locking protocol" on NFS/SMB, "not authorized" on some FUSE mounts) may.
"""

from __future__ import annotations

import re
from typing import Iterable, List, Optional, Sequence

# One list for the linter and the helper that fixed code calls.
from walint.runtime import PERMANENT_MARKERS as PERMANENT_MESSAGES
from walint.runtime import TRANSIENT_MESSAGES

_TRANSIENT_CODE_RE = re.compile(r"^sqlite_(?:ioerr|busy|locked)(?:_\w+)?$", re.I)
_PERMANENT_CODE_RE = re.compile(r"^sqlite_(?:protocol|auth)(?:_\w+)?$", re.I)
# Words that make a fragment of a transient message specific to it ("locked", "i/o").
_TRANSIENT_WORDS = ("i/o", "lock", "busy")

TRANSIENT = "transient"
PERMANENT = "permanent"


def _normalise(text: str) -> str:
    return " ".join(text.lower().split())


def classify_text(
    text: str, extra_transient: Iterable[str] = (), extra_permanent: Iterable[str] = ()
) -> Optional[str]:
    """``TRANSIENT``, ``PERMANENT`` or None for one marker string.

    A marker is matched the way code uses it, as a substring of the error message, so
    a fragment such as ``"locked"`` or ``"i/o error"`` is transient too. A simple regular
    expression (``database is (locked|busy)``) is each of the texts it spells out: transient
    when one of them is.
    """
    spelled = _spelled_out(text)
    if spelled != [text]:
        kinds = {_classify_plain(part, extra_transient, extra_permanent) for part in spelled}
        return TRANSIENT if TRANSIENT in kinds else PERMANENT if PERMANENT in kinds else None
    return _classify_plain(text, extra_transient, extra_permanent)


# An innermost group of a pattern, capturing or not, and whether it may be left out:
# `(locked|busy)`, `(?:table )?`.
_GROUP_RE = re.compile(r"\((?:\?:)?([^()\\]*)\)(\??)")
# Pattern syntax that stands for a space, or for nothing, in the texts it matches.
_PATTERN_SPACE_RE = re.compile(r"\\s[+*]?|\\ ")
_PATTERN_NOTHING_RE = re.compile(r"\\b|^\^|\$$")
_MAX_SPELLED = 32
_PATTERN_RE = re.compile(r"[|(^$]|\\[sb ]")


def _spelled_out(text: str) -> List[str]:
    """The plain texts a simple regular expression matches, groups and ``|`` spelled out;
    ``[text]`` itself for any text that is no such pattern (or too many to spell)."""
    if _PATTERN_RE.search(text) is None:
        return [text]
    texts = [_PATTERN_NOTHING_RE.sub("", _PATTERN_SPACE_RE.sub(" ", text))]
    while True:
        spelled: List[str] = []
        for current in texts:
            group = _GROUP_RE.search(current)
            if group is None:
                spelled.append(current)
                continue
            parts = group.group(1).split("|") + ([""] if group.group(2) else [])
            spelled.extend(current[: group.start()] + part + current[group.end() :] for part in parts)
        if len(spelled) > _MAX_SPELLED:
            return [text]
        if spelled == texts:
            break
        texts = spelled
    parts = [part for current in texts for part in current.split("|")]
    return parts if 0 < len(parts) <= _MAX_SPELLED else [text]


def _classify_plain(text: str, extra_transient: Iterable[str], extra_permanent: Iterable[str]) -> Optional[str]:
    value = _normalise(text)
    if not value:
        return None
    code = classify_code_name(value)
    if code is not None:
        return code
    transient = tuple(TRANSIENT_MESSAGES) + tuple(_normalise(t) for t in extra_transient)
    permanent = tuple(PERMANENT_MESSAGES) + tuple(_normalise(p) for p in extra_permanent)
    if any(message in value for message in transient):
        return TRANSIENT
    if any(message in value for message in permanent):
        return PERMANENT
    if len(value) >= 4 and any(word in value for word in _TRANSIENT_WORDS):
        if any(value in message for message in transient) and not any(value in m for m in permanent):
            return TRANSIENT
    return None


def classify_code_name(name: str) -> Optional[str]:
    """Classify a constant such as ``SQLITE_IOERR_SHORT_READ`` or ``SQLITE_PROTOCOL``."""
    if _TRANSIENT_CODE_RE.match(name):
        return TRANSIENT
    if _PERMANENT_CODE_RE.match(name):
        return PERMANENT
    return None


# SQLite's primary result codes that say something about WAL; an extended code keeps
# its primary code in the low byte (SQLITE_BUSY_SNAPSHOT is 517, 5 | 2 << 8).
_CODE_NAMES = {5: "SQLITE_BUSY", 6: "SQLITE_LOCKED", 10: "SQLITE_IOERR", 15: "SQLITE_PROTOCOL", 23: "SQLITE_AUTH"}


def code_number_name(number: int) -> Optional[str]:
    """The name of the primary result code of ``number`` (``5`` is ``SQLITE_BUSY``)."""
    return _CODE_NAMES.get(number & 0xFF) if number >= 0 else None


def classify_code_numbers(numbers: Sequence[int]) -> List[Optional[str]]:
    """Classify result codes written as numbers, each as :func:`classify_code_name` would
    its name; only in a collection that holds numbers alone, among them a permanent code
    (``(15, 23, 5)``), since a number by itself is rarely an error code."""
    kinds = [classify_code_name(code_number_name(n) or "") for n in numbers]
    return kinds if PERMANENT in kinds else [None] * len(numbers)


def is_fragment(text: str) -> bool:
    """A bare word of a transient message (``"busy"``, ``"locked"``) rather than one whole:
    a key a program chose itself as often as a piece of SQLite's text."""
    value = _normalise(text)
    return classify_code_name(value) is None and not any(message in value for message in TRANSIENT_MESSAGES)


# Answers a probe makes up when it cannot read the mode. Other words a handler answers
# ("new" for a file that does not exist yet) are claims about the file, not guesses.
_UNKNOWN_WORDS = frozenset({"", "unknown", "error", "?", "n/a", "na", "unreadable", "unavailable", "invalid", "failed"})


def says_unknown(text: object) -> bool:
    return isinstance(text, str) and text.strip().lower() in _UNKNOWN_WORDS

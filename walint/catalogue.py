"""What the fast path needs to know of every rule, readable without importing the rules.

The rule modules import LibCST, which alone costs more than scanning a large tree for
tokens. So the prefilter reads each rule's tokens and whether it is on by default from
this table; ``tests/test_speed.py`` keeps it equal to the rule classes' own
``tokens`` and ``default_enabled``, which stay the source of truth.
"""

from __future__ import annotations

from typing import Dict, Tuple

from walint.settings import Settings

PARSE_ERROR = "WAL000"
UNUSED_SUPPRESSION = "WAL100"

_JOURNAL_MODE = b"journal_mode"

# code -> (on by default, lower-case byte tokens a file must hold for the rule to fire)
RULE_TOKENS: Dict[str, Tuple[bool, Tuple[bytes, ...]]] = {
    PARSE_ERROR: (True, ()),
    "WAL001": (True, (_JOURNAL_MODE, b"disable_wal")),
    "WAL002": (
        True,
        (
            b"disk i/o",
            b"database is locked",
            b"database table is locked",
            b"database is busy",
            b"sqlite_ioerr",
            b"sqlite_busy",
            b"sqlite_locked",
        ),
    ),
    "WAL003": (True, (_JOURNAL_MODE, b"disable_wal")),
    "WAL004": (True, (_JOURNAL_MODE, b"enable_wal")),
    "WAL005": (True, (_JOURNAL_MODE,)),
    UNUSED_SUPPRESSION: (False, (b"noqa", b"walint")),
}


def prefilter_tokens_for(settings: Settings) -> Tuple[bytes, ...]:
    """The tokens of the rules ``settings`` turns on: a file holding none is never parsed."""
    return tuple(
        dict.fromkeys(
            token.lower()
            for code, (default, tokens) in RULE_TOKENS.items()
            if settings.enabled(code, default)
            for token in tokens
        )
    )

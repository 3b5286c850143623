"""Every rule's identity, declared once: its code, name, tokens and whether it is on by default.

LibCST-free, so the fast path (prefilter, project pass, warm cache) reads it without
importing the rules, and each rule class takes its identity from here (``spec``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Tuple

from walint.settings import Settings

# The codes the engine and the command line name themselves.
PARSE_ERROR = "WAL000"
UNUSED_SUPPRESSION = "WAL100"


@dataclass(frozen=True)
class RuleSpec:
    """What walint knows of a rule before importing it."""

    code: str
    name: str
    # Lower-case byte strings; a file holding none of them is never parsed for this rule.
    tokens: Tuple[bytes, ...] = ()
    default_enabled: bool = True


_JOURNAL_MODE = b"journal_mode"

# In the order `walint rules` lists them.
ALL_SPECS: Tuple[RuleSpec, ...] = (
    RuleSpec(PARSE_ERROR, "parse-error"),
    RuleSpec("WAL001", "unguarded-fallback", (_JOURNAL_MODE, b"disable_wal")),
    RuleSpec(
        "WAL002",
        "transient-marker",
        (
            b"disk i/o",
            b"database is locked",
            b"database table is locked",
            b"database is busy",
            b"sqlite_ioerr",
            b"sqlite_busy",
            b"sqlite_locked",
            # `class SqliteCode(IntEnum): BUSY = 5; IOERR = 10`: result codes by their short
            # names, as assigned ("ioerr" alone would match every `IOError`; "busy" and
            # "locked" are everyone's words).
            b"ioerr =",
            b"ioerr=",
            # Extended codes by their short names (`IOERR_SHMOPEN = 4618`, `BUSY_RECOVERY = 261`).
            b"ioerr_",
            b"busy_recovery",
            b"busy_snapshot",
            b"busy_timeout",
        ),
    ),
    RuleSpec("WAL003", "connect-skips-guard", (_JOURNAL_MODE, b"disable_wal")),
    RuleSpec("WAL004", "swallowed-wal-failure", (_JOURNAL_MODE, b"enable_wal")),
    RuleSpec("WAL005", "fail-open-guard", (_JOURNAL_MODE,)),
    RuleSpec(UNUSED_SUPPRESSION, "unused-suppression", (b"noqa", b"walint"), default_enabled=False),
)
SPECS_BY_CODE: Dict[str, RuleSpec] = {spec.code: spec for spec in ALL_SPECS}


def prefilter_tokens_for(settings: Settings) -> Tuple[bytes, ...]:
    """The tokens of the rules ``settings`` turns on: a file holding none is never parsed."""
    return tuple(
        dict.fromkeys(
            token.lower()
            for spec in ALL_SPECS
            if settings.enabled(spec.code, spec.default_enabled)
            for token in spec.tokens
        )
    )

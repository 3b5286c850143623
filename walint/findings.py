"""The plain data that flows between walint's stages: findings, their fixes and locations.

Everything here is a frozen dataclass of builtins, so results can cross process
boundaries, be cached, and be compared in tests without LibCST in sight.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Tuple

from walint.summary import ModuleSummary


@dataclass(frozen=True, order=True)
class Location:
    """A 1-based line and column, the way editors and ruff count them."""

    row: int
    column: int


@dataclass(frozen=True)
class Edit:
    """Replace the source between two locations with ``content``."""

    content: str
    location: Location
    end_location: Location


@dataclass(frozen=True)
class Fix:
    """How to repair a finding, and whether doing so can change more than the hazard."""

    message: str
    applicability: str  # "safe" or "unsafe", as in ruff
    edits: Tuple[Edit, ...] = ()

    @property
    def is_safe(self) -> bool:
        """Applied by plain ``walint fix``; unsafe fixes need ``--unsafe-fixes``."""
        return self.applicability == "safe"


@dataclass(frozen=True)
class Finding:
    """One reported problem at one place in one file."""

    path: str
    code: str
    message: str
    location: Location
    end_location: Location
    fix: Optional[Fix] = None
    # Why a finding has no fix, when a user would expect one.
    no_fix_reason: Optional[str] = None
    # The statement the finding sits in, normalised; lets a baseline match moved code.
    fingerprint: str = field(default="", compare=False)

    @property
    def sort_key(self) -> tuple:
        return (self.path, self.location, self.code, self.message)


@dataclass(frozen=True)
class FileResult:
    """What checking one file produced (here, not in the engine, so that a run served from
    the cache never imports the engine, the rules or LibCST)."""

    path: str
    findings: Tuple[Finding, ...] = ()
    # Internal errors: a rule that crashed on this file. The run goes on; the exit code is 2.
    errors: Tuple[str, ...] = ()
    # What other modules may import from this one (None when it did not parse).
    summary: Optional[ModuleSummary] = None

"""The effective settings of a run, as plain frozen data the per-file work can carry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

from walint.discovery import matches_path


def _matches_prefix(code: str, prefixes: Tuple[str, ...]) -> bool:
    return any(code.startswith(prefix) for prefix in prefixes)


@dataclass(frozen=True)
class Settings:
    """What to check and how; built from defaults, ``[tool.walint]`` and the command line.

    Patterns in ``exclude`` and ``per_file_ignores`` are already anchored: relative to the
    working directory, or absolute when they came from a configuration file elsewhere.
    """

    select: Optional[Tuple[str, ...]] = None  # None: every rule that is on by default
    extend_select: Tuple[str, ...] = ()
    ignore: Tuple[str, ...] = ()
    exclude: Tuple[str, ...] = ()
    # (file pattern, rule code prefixes) pairs.
    per_file_ignores: Tuple[Tuple[str, Tuple[str, ...]], ...] = ()
    respect_gitignore: bool = True
    # Apply ``exclude`` to files named on the command line too (for pre-commit).
    force_exclude: bool = False
    guards: Tuple[str, ...] = ()
    transient_markers: Tuple[str, ...] = ()
    permanent_markers: Tuple[str, ...] = ()
    helper: str = "walint.runtime:apply_wal_with_fallback"

    def enabled(self, code: str, default: bool = True) -> bool:
        """Is rule ``code`` on? ``default`` says whether it is on when nothing selects it."""
        selected = default if self.select is None else _matches_prefix(code, self.select)
        selected = selected or _matches_prefix(code, self.extend_select)
        return selected and not _matches_prefix(code, self.ignore)

    def ignored_in_file(self, code: str, path: str) -> bool:
        """Does a ``per-file-ignores`` entry turn ``code`` off for the file at ``path``?"""
        return any(
            _matches_prefix(code, codes) and matches_path(path, pattern)
            for pattern, codes in self.per_file_ignores
        )

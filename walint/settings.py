"""The effective settings of a run, as plain frozen data the per-file work can carry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

from walint.discovery import DEFAULT_EXCLUDE, DEFAULT_INCLUDE, matches_path

# Which fix plans the engine renders into edits (``Settings.render_fixes``). Plans cost
# nothing until rendered; rendering costs a transform of the whole file, so only the
# commands that show or apply edits ask for it.
RENDER_NONE = ""  # `check` in a text format: a plan's title and applicability suffice
RENDER_SAFE = "safe"  # `walint fix`: the fixes it will apply
RENDER_ALL = "all"  # `fix --unsafe-fixes`, and the report formats that carry edits


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
    exclude: Tuple[str, ...] = DEFAULT_EXCLUDE
    # The files a directory walk picks (ruff's `include`), as patterns like `exclude`'s.
    include: Tuple[str, ...] = DEFAULT_INCLUDE
    # (file pattern, rule code prefixes) pairs.
    per_file_ignores: Tuple[Tuple[str, Tuple[str, ...]], ...] = ()
    respect_gitignore: bool = True
    # Apply ``exclude`` to files named on the command line too (for pre-commit).
    force_exclude: bool = False
    guards: Tuple[str, ...] = ()
    transient_markers: Tuple[str, ...] = ()
    permanent_markers: Tuple[str, ...] = ()
    helper: str = "walint.runtime:apply_wal_with_fallback"
    # Part of the settings, so of the cache key: a cached result matches what was asked.
    render_fixes: str = RENDER_NONE

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

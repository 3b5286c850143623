"""The effective settings of a run, as plain frozen data the per-file work can carry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple


@dataclass(frozen=True)
class Settings:
    """What to check and how; built from defaults, ``[tool.walint]`` and the command line."""

    select: Optional[Tuple[str, ...]] = None  # None: every rule that is on by default
    ignore: Tuple[str, ...] = ()
    exclude: Tuple[str, ...] = ()
    respect_gitignore: bool = True
    guards: Tuple[str, ...] = ()
    transient_markers: Tuple[str, ...] = ()
    permanent_markers: Tuple[str, ...] = ()
    helper: str = "walint.runtime:apply_wal_with_fallback"

    def enabled(self, code: str) -> bool:
        selected = self.select is None or any(code.startswith(prefix) for prefix in self.select)
        return selected and not any(code.startswith(prefix) for prefix in self.ignore)

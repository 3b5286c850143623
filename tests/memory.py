"""Fixing source held in memory, the way `walint fix -` fixes standard input: one
candidate served by a reader, through the same fixer as files on disk."""

from __future__ import annotations

from pathlib import Path
from typing import Tuple

from walint.discovery import Candidate
from walint.fixer import FixRun, fix
from walint.runner import serving
from walint.settings import Settings


def fix_bytes(display: str, data: bytes, settings: Settings, unsafe: bool = False) -> Tuple[bytes, FixRun]:
    """The fixed source (``data`` itself when nothing changed) and what the fixer did."""
    run = fix([Candidate(Path(display), display)], settings, [], unsafe, write=False, read=serving(display, data))
    return run.changes.get(display, (data, data))[1], run

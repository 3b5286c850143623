"""What every output format gets besides the findings: rule metadata, source lines, colour.

Reporters see plain data only. Rule metadata arrives as :class:`RuleInfo` (built from the
rule docstrings by :mod:`walint.docs`), and source lines are read from the files, so no
reporter needs LibCST or the rule classes.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from walint.discovery import Unreadable, read_regular
from walint.findings import Finding
from walint.text import LINE_BREAK_RE, source_encoding


_ANSI = {"bold": "1", "dim": "2", "red": "31", "green": "32", "yellow": "33", "blue": "34", "cyan": "36"}


@dataclass(frozen=True)
class RuleInfo:
    """A rule as reports and docs present it."""

    code: str
    name: str
    summary: str
    explanation: str  # the rule's documentation, in Markdown
    fixable: bool
    default_enabled: bool


class SourceLines:
    """The lines of each file a report quotes, read once; sources not on disk can be given."""

    def __init__(self, given: Optional[Mapping[str, bytes]] = None) -> None:
        self._given = dict(given or {})
        self._cache: Dict[str, List[str]] = {}

    def __call__(self, path: str) -> List[str]:
        if path not in self._cache:
            data = self._given.get(path)
            if data is None:
                try:
                    data = read_regular(path)
                except (OSError, Unreadable):  # replaced by a FIFO or a huge file since the check
                    data = b""
            self._cache[path] = _decode_lines(data)
        return self._cache[path]


def _decode_lines(data: bytes) -> List[str]:
    """Lines as Python reads them: the coding cookie or BOM decides, ``\\r`` ends a line too."""
    try:
        text = data.decode(source_encoding(data), errors="replace")
    except LookupError:
        text = data.decode("utf-8", errors="replace")
    return LINE_BREAK_RE.split(text)


@dataclass(frozen=True)
class ReportContext:
    """Everything a format may use besides the findings."""

    rules: Mapping[str, RuleInfo] = field(default_factory=dict)
    source_lines: SourceLines = field(default_factory=SourceLines)
    colour: bool = False
    # The closing "Found N errors." / "All checks passed!" of the text formats.
    show_summary: bool = True
    # (path, why) for each file that could not be checked: every format reports them.
    errors: Sequence[Tuple[str, str]] = ()
    # `check --unsafe-fixes`: unsafe fixes count as fixable, not hidden.
    unsafe_fixes: bool = False

    def paint(self, text: str, *styles: str) -> str:
        if not self.colour or not styles:
            return text
        codes = ";".join(_ANSI[style] for style in styles)
        return f"\x1b[{codes}m{text}\x1b[0m"


# The code machine-readable reports give a file that could not be checked (unreadable, too
# large, a crash while analysing it): ruff's io-error, which tools reading ruff's output know.
CHECK_ERROR_CODE = "E902"


def plural(count: int, singular: str, plural_form: Optional[str] = None) -> str:
    """``1 file``, ``2 files``."""
    return f"{count} {singular if count == 1 else (plural_form or singular + 's')}"


def relative_posix(path: str) -> str:
    """``path`` relative to the working directory when it is below it, with ``/`` separators.

    CI services (GitHub, GitLab, code scanning) resolve paths against the checkout root.
    """
    absolute = os.path.abspath(path)
    relative = os.path.relpath(absolute)
    chosen = absolute if relative == ".." or relative.startswith(".." + os.sep) else relative
    return chosen.replace(os.sep, "/")


def stable_fingerprints(findings: Sequence[Finding]) -> List[str]:
    """One hash per finding that survives edits elsewhere in the file and is unique in the run.

    It hashes the path, the code and the normalised statement (not the line number), plus
    how many identical findings came before, so two copies of one problem stay distinct.
    """
    seen: Dict[str, int] = {}
    hashes = []
    for finding in findings:
        key = "\0".join((relative_posix(finding.path), finding.code, finding.fingerprint))
        occurrence = seen.get(key, 0)
        seen[key] = occurrence + 1
        # surrogateescape: a file name that is not UTF-8 hashes as the bytes it is.
        hashes.append(hashlib.sha256(f"{key}\0{occurrence}".encode("utf-8", "surrogateescape")).hexdigest())
    return hashes

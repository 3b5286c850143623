"""``walint fix``: apply the findings' fixes until none applies, then write each file once.

The fixer owns the whole of it: plan (the engine renders the fixes this run may apply),
apply and write; the CLI only shows the :class:`FixRun` it returns. Fixes are applied in
memory, round after round (a fix that overlaps another waits for the next round, computed
on the result of this one), so ``--diff``, standard input and a real run share one code
path. Only then are files written: atomically, never through a symlink that leaves the
given roots, and never over a file that changed on disk since it was read.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from walint.cache import Remembered, Results
from walint.discovery import Candidate, read_bytes
from walint.findings import Edit, Finding
from walint.render import apply_edits, overlaps
from walint.runner import Project, Reader, RunResult, check_files
from walint.settings import RENDER_ALL, RENDER_SAFE, Settings
from walint.text import quiet_about_the_source
from walint.writing import inside, real_root, replace_file

# Each round applies every fix that does not overlap an earlier one; a chain of fixes
# longer than this is a bug (two fixes undoing each other), reported as such.
MAX_ROUNDS = 10


class FixError(Exception):
    """A fix could not be applied to a file; the file is left as it was."""


@dataclass
class FixRun:
    """What ``walint fix`` did, or (with ``--diff``) would do."""

    # Findings left after the last round (no fix, an unsafe fix not asked for, or a conflict).
    remaining: List[Finding] = field(default_factory=list)
    fixed: int = 0
    # Display path -> the findings fixed in that file, in case its write is refused.
    fixed_in: Dict[str, List[Finding]] = field(default_factory=dict)
    # Display path -> (bytes before, bytes after) for every file the fixes change.
    changes: Dict[str, Tuple[bytes, bytes]] = field(default_factory=dict)
    # (display path, message): unreadable files, rule crashes, fixes refused, writes refused.
    errors: List[Tuple[str, str]] = field(default_factory=list)
    converged: bool = True


def rendering(settings: Settings, unsafe: bool) -> Settings:
    """``settings`` asking the engine for the edits of the fixes this run may apply."""
    return replace(settings, render_fixes=RENDER_ALL if unsafe else RENDER_SAFE)


def fixable(finding: Finding, unsafe: bool) -> bool:
    return finding.fix is not None and bool(finding.fix.edits) and (unsafe or finding.fix.is_safe)


def choose_fixes(findings: Iterable[Finding], unsafe: bool) -> Dict[str, List[Finding]]:
    """Per file, the fixes to apply this round: in source order, none overlapping another."""
    chosen: Dict[str, List[Finding]] = {}
    for finding in sorted(findings, key=lambda f: f.sort_key):
        if not fixable(finding, unsafe):
            continue
        taken = chosen.setdefault(finding.path, [])
        edits = finding.fix.edits  # type: ignore[union-attr]
        if any(overlaps(edits, other.fix.edits) for other in taken):  # type: ignore[union-attr]
            continue
        taken.append(finding)
    return {path: fixes for path, fixes in chosen.items() if fixes}


def _unique_edits(fixes: Sequence[Finding]) -> List[Edit]:
    # Two fixes may add the same import line; it is one edit, applied once.
    return list(dict.fromkeys(edit for finding in fixes for edit in finding.fix.edits))  # type: ignore[union-attr]


def apply_fixes(data: bytes, fixes: Sequence[Finding]) -> bytes:
    """``data`` with the fixes' edits applied, in the file's own encoding, BOM and newlines.

    Raises :class:`FixError` when the result would not parse: walint never writes code
    that it cannot read back.
    """
    import libcst as cst

    try:
        module = cst.parse_module(data)
        if module.bytes != data:
            # LibCST drops some rare layouts (a line holding only a backslash); edits
            # against its text would silently lose those bytes.
            raise FixError("walint cannot reproduce this file byte for byte; left unchanged")
        text = apply_edits(module.code, _unique_edits(fixes))
        fixed = text.encode(module.encoding)
        cst.parse_module(fixed)
        with quiet_about_the_source():
            compile(fixed, "<fixed>", "exec", dont_inherit=True)
    except UnicodeError as error:
        raise FixError(f"the fixed code cannot be encoded as {module.encoding}: {error}") from None
    except (cst.ParserSyntaxError, SyntaxError, ValueError) as error:
        raise FixError(f"the fixed code would not parse ({str(error).splitlines()[0]}); left unchanged") from None
    except RecursionError:
        raise FixError("too deeply nested to rewrite safely; left unchanged") from None
    return fixed


def _key(path: "os.PathLike[str] | str") -> str:
    # realpath, not abspath: "d/../x.py" with d a symlink is not "x.py".
    return os.path.normcase(os.path.realpath(os.fspath(path)))


class _Sources:
    """The bytes each file had when first read, and the fixed bytes that replace them.

    The checker reads through this, so every round sees the previous rounds' fixes and
    every edit lands on exactly the bytes it was computed from.
    """

    def __init__(self, read: Reader = read_bytes) -> None:
        self.original: Dict[str, bytes] = {}
        self.current: Dict[str, bytes] = {}
        self._read = read

    def read(self, path: Path) -> Tuple[Optional[bytes], Optional[str]]:
        key = _key(path)
        if key in self.current:
            return self.current[key], None
        if key in self.original:
            return self.original[key], None
        data, problem = self._read(path)
        if data is not None:
            self.original[key] = data
        return data, problem

    def get(self, path: str) -> bytes:
        key = _key(path)
        return self.current.get(key, self.original[key])

    def set(self, path: str, data: bytes) -> None:
        self.current[_key(path)] = data


def fix(
    candidates: Sequence[Candidate],
    settings: Settings,
    roots: Sequence[str],
    unsafe: bool = False,
    *,
    write: bool = True,
    jobs: int = 1,
    cache: Optional[Results] = None,
    read: Reader = read_bytes,
    project: Optional[Project] = None,
) -> FixRun:
    """``walint fix``: fix the files in memory until no fix applies, then write each
    changed one (unless ``write`` is False: ``--diff``, or standard input, whose fixed
    source the caller prints). ``jobs``, ``cache``, ``read`` and ``project`` are as for
    ``check_files``.

    A write that is refused leaves the file as it was, is an error in the run, and its
    fixes count as remaining.
    """
    sources = _Sources(read)
    results = Remembered(cache)
    run = FixRun()
    refused: set = set()
    settings = rendering(settings, unsafe)

    def check() -> RunResult:
        return check_files(candidates, settings, roots, jobs=jobs, cache=results, read=sources.read, project=project)

    result = check()
    for _ in range(MAX_ROUNDS):
        chosen = {path: fixes for path, fixes in choose_fixes(result.findings, unsafe).items() if path not in refused}
        if not chosen:
            break
        for path, fixes in chosen.items():
            try:
                sources.set(path, apply_fixes(sources.get(path), fixes))
            except FixError as error:
                refused.add(path)
                run.errors.append((path, str(error)))
                continue
            run.fixed += len(fixes)
            run.fixed_in.setdefault(path, []).extend(fixes)
        result = check()
    else:
        run.converged = not choose_fixes(result.findings, unsafe)
    run.remaining = list(result.findings)
    run.errors.extend(result.errors)
    for candidate in candidates:
        key = _key(candidate.path)
        if key in sources.current and sources.current[key] != sources.original[key]:
            run.changes[candidate.display] = (sources.original[key], sources.current[key])
    run.errors.sort()
    if write:
        for display, (before, after) in sorted(run.changes.items()):
            problem = write_change(display, before, after, roots)
            if problem is not None:
                run.errors.append((display, problem))
                unfix(run, display)
    return run


def unfix(run: FixRun, path: str) -> None:
    """Count ``path``'s fixes as remaining again: its write was refused."""
    undone = run.fixed_in.pop(path, [])
    run.fixed -= len(undone)
    run.remaining = sorted(run.remaining + undone, key=lambda f: f.sort_key)
    run.changes.pop(path, None)


# ----- writing ----------------------------------------------------------------------------


def write_change(path: str, before: bytes, after: bytes, roots: Sequence[str]) -> Optional[str]:
    """Write ``after`` over the file at ``path`` if it still holds ``before``.

    Returns None on success, else why the file was left alone. The write goes to the
    symlink's target, and only when that target is inside one of ``roots``.
    """
    target = os.path.realpath(path)
    real_roots = [real_root(root) for root in roots]
    if not inside(target, real_roots):
        return "is a symlink to a file outside the checked paths; not written"
    # Read back, compare, write, compare again and rename: see replace_file for what it refuses.
    return replace_file(target, before, after)

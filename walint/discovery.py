"""Turn command-line paths into the Python files to check, and skip the ones that cannot matter.

Directories are walked for ``*.py`` and ``*.pyi`` with the ``exclude`` patterns pruned
(by default ruff's list of version-control, virtualenv, cache and build directories,
:data:`DEFAULT_EXCLUDE`) and ``.gitignore`` honoured; files named on the command line
are always checked, unless ``--force-exclude``. The byte prefilter then drops every file that holds none of the
tokens the active rules declare, before anything is parsed.
"""

from __future__ import annotations

import fnmatch
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, List, Optional, Sequence, Tuple

# The `exclude` setting's default: ruff's list, so a ruff user's habits carry over. Setting
# `exclude` replaces it (`exclude = []` walks everything); `extend-exclude` adds to it.
DEFAULT_EXCLUDE: Tuple[str, ...] = (
    ".bzr",
    ".direnv",
    ".eggs",
    ".git",
    ".git-rewrite",
    ".hg",
    ".ipynb_checkpoints",
    ".mypy_cache",
    ".nox",
    ".pants.d",
    ".pyenv",
    ".pytest_cache",
    ".pytype",
    ".ruff_cache",
    ".svn",
    ".tox",
    ".venv",
    ".vscode",
    "__pypackages__",
    "_build",
    "buck-out",
    "build",
    "dist",
    "node_modules",
    "site-packages",
    "venv",
)


class PathNotFound(Exception):
    """A path given on the command line does not exist."""


@dataclass(frozen=True)
class Candidate:
    """A file to check, with the path to show for it."""

    path: Path
    display: str
    # Why it cannot be checked, when discovery already knows: an unreadable directory,
    # whose files are reported this way instead of silently going unchecked.
    problem: Optional[str] = None


class _GitIgnore:
    """The .gitignore files from a walk's root down to the current directory."""

    def __init__(self) -> None:
        self._specs: List[Tuple[str, object]] = []

    def enter(self, directory: str) -> None:
        path = os.path.join(directory, ".gitignore")
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                lines = handle.read().splitlines()
        except OSError:
            return
        import pathspec

        self._specs.append((directory, pathspec.GitIgnoreSpec.from_lines(lines)))

    def leave(self, directory: str) -> None:
        while self._specs and not (directory + os.sep).startswith(self._specs[-1][0] + os.sep):
            self._specs.pop()

    def ignored(self, full: str, is_dir: bool) -> bool:
        for base, spec in self._specs:
            relative = os.path.relpath(full, base).replace(os.sep, "/")
            if is_dir:
                relative += "/"
            if spec.match_file(relative):  # type: ignore[attr-defined]
                return True
        return False


def untrusted_reason(directory: str) -> Optional[str]:
    """Why files in ``directory`` may have been planted by someone else (it is owned by
    another user, or anyone may write to it), or None. root's directories are trusted."""
    try:
        status = os.stat(directory)
    except OSError as error:
        return f"cannot be inspected ({_reason(error)})"
    if hasattr(os, "geteuid") and status.st_uid not in (os.geteuid(), 0):
        return "is owned by another user"
    if status.st_mode & stat.S_IWOTH:
        return "is writable by every user"
    return None


def nearest_folder(path: str) -> str:
    """``path`` if it is a folder, else the folder holding it; for a name that does not
    exist (``--stdin-filename``), the nearest folder above it that does."""
    current = os.path.abspath(path)
    while not os.path.isdir(current) and os.path.dirname(current) != current:
        current = os.path.dirname(current)
    return current


def trusted_ancestors(start: str) -> Iterator[str]:
    """``start`` (a directory, or a file's directory) and its parents, nearest first, as far
    as walint trusts what they hold: up to the repository root (the nearest directory with
    a ``.git``), and never into a directory another user owns or anyone may write to, where
    a ``pyproject.toml`` or ``.gitignore`` could be someone else's (git's own rule)."""
    current = nearest_folder(start)
    while True:
        if untrusted_reason(current) is not None:
            return
        yield current
        if os.path.exists(os.path.join(current, ".git")):
            return
        parent = os.path.dirname(current)
        if parent == current:
            return
        current = parent


def repository_root(start: str) -> Optional[str]:
    """The nearest trusted directory at or above ``start`` that holds a ``.git``."""
    for directory in trusted_ancestors(start):
        if os.path.exists(os.path.join(directory, ".git")):
            return directory
    return None


def _git_root_ignores(root: str) -> List[str]:
    """.gitignore files above a walked root, up to its repository root, that apply to it.

    Outside a repository (or beyond where trust stops) none do, as git would have it: an
    outer dotfiles repository's ``*`` must not hide a project of its own."""
    top = os.path.abspath(root)
    found = []
    for directory in trusted_ancestors(top):
        if directory != top and os.path.isfile(os.path.join(directory, ".gitignore")):
            found.append(directory)  # the walk itself reads the root's own
        if os.path.exists(os.path.join(directory, ".git")):
            return list(reversed(found))
    return []


def _walk(root: str, respect_gitignore: bool, excluded) -> Iterator[Tuple[str, Optional[str]]]:
    """(path, None) for each file to check, (directory, why) for a directory that cannot be listed."""
    gitignore = _GitIgnore()
    if respect_gitignore:
        for directory in _git_root_ignores(root):
            gitignore.enter(directory)
    stack = [root]
    while stack:
        directory = stack.pop()
        if respect_gitignore:
            gitignore.leave(directory)
            gitignore.enter(directory)
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except FileNotFoundError:
            continue  # removed while we walked: nothing in it to check
        except OSError as error:
            yield directory, f"cannot list directory: {_reason(error)}"
            continue
        subdirectories = []
        for entry in entries:
            full = entry.path
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
                is_file = entry.is_file()
            except OSError:
                continue
            if is_dir:
                if excluded(full):
                    continue
                if respect_gitignore and gitignore.ignored(full, True):
                    continue
                subdirectories.append(full)
            elif is_file and entry.name.endswith((".py", ".pyi")):
                if excluded(full) or (respect_gitignore and gitignore.ignored(full, False)):
                    continue
                yield full, None
        stack.extend(reversed(subdirectories))


def matches_path(path: str, pattern: str) -> bool:
    """Does ``path`` match an ``exclude`` or ``per-file-ignores`` pattern?

    A pattern without a slash matches a file or directory name anywhere (``migrations``,
    ``*_pb2.py``); a pattern with one matches the whole path, relative to the working
    directory unless it is absolute (``src/legacy/*``). ``*`` also matches ``/``.
    """
    if "/" not in pattern and os.sep not in pattern:
        return fnmatch.fnmatchcase(os.path.basename(path), pattern)
    return fnmatch.fnmatchcase(_posix(os.path.abspath(path)), _posix(os.path.abspath(pattern)))


def _posix(path: str) -> str:
    return path.replace(os.sep, "/")


def is_excluded(path: str, patterns: Sequence[str]) -> bool:
    """Does a pattern match ``path`` or a directory holding it, below the working directory?

    This is ``--force-exclude``: a file named on the command line (as pre-commit names
    them) stays excluded when it sits in an excluded directory.
    """
    if not patterns:
        return False
    current = os.path.abspath(path)
    top = os.getcwd()
    while True:
        if any(matches_path(current, pattern) for pattern in patterns):
            return True
        parent = os.path.dirname(current)
        if parent == current or parent == top or not parent.startswith(top + os.sep):
            return False
        current = parent


def _exclusion(patterns: Sequence[str]):
    def excluded(full: str) -> bool:
        return any(matches_path(full, pattern) for pattern in patterns)

    return excluded


def discover(
    paths: Iterable[str],
    exclude: Sequence[str] = DEFAULT_EXCLUDE,
    respect_gitignore: bool = True,
    force_exclude: bool = False,
) -> List[Candidate]:
    """Every file to check under ``paths``, each once, in a stable order.

    Files named directly are checked even when ``exclude`` matches them, unless
    ``force_exclude`` is set.
    """
    excluded = _exclusion(exclude)
    seen = set()
    out: List[Candidate] = []
    for given in paths:
        if not os.path.lexists(given):
            raise PathNotFound(given)
        if force_exclude and is_excluded(given, exclude):
            continue
        if os.path.isdir(given):
            files: Iterable[Tuple[str, Optional[str]]] = _walk(given, respect_gitignore, excluded)
        else:
            files = [(given, None)]
        for file, problem in files:
            key = os.path.realpath(file)
            if key in seen:
                continue
            seen.add(key)
            out.append(Candidate(Path(file), os.path.normpath(file), problem))
    return out


def is_candidate(data: bytes, tokens: Sequence[bytes]) -> bool:
    """Does ``data`` hold any of ``tokens`` (lower-case), ignoring case?"""
    if not tokens:
        return False
    lowered = data.lower()
    return any(token in lowered for token in tokens)


def read_bytes(path: Path) -> Tuple[Optional[bytes], Optional[str]]:
    """The file's bytes, or a message saying why it could not be read."""
    try:
        return path.read_bytes(), None
    except IsADirectoryError:
        return None, "is a directory"
    except FileNotFoundError:
        return None, "no such file (it vanished or is a dangling symlink)"
    except OSError as error:
        return None, _reason(error)


def _reason(error: OSError) -> str:
    if isinstance(error, PermissionError):
        return "permission denied"
    return error.strerror or str(error)

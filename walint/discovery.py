"""Turn command-line paths into the Python files to check, and skip the ones that cannot matter.

Directories are walked for ``include`` (``*.py`` and ``*.pyi``) with the ``exclude`` patterns pruned
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
# The `include` setting's default: the files a directory walk picks. ruff's, less notebooks.
DEFAULT_INCLUDE: Tuple[str, ...] = ("*.py", "*.pyi")

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
            lines = read_regular(path).decode("utf-8", errors="replace").splitlines()
        except (OSError, Unreadable):
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


def _walk(root: str, respect_gitignore: bool, excluded, included) -> Iterator[Tuple[str, Optional[str]]]:
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
            elif is_file and included(full):
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
    include: Sequence[str] = DEFAULT_INCLUDE,
) -> List[Candidate]:
    """Every file to check under ``paths``, each once, in a stable order.

    A directory is walked for the files ``include`` matches. Files named directly are
    checked whatever their name, and even when ``exclude`` matches them, unless
    ``force_exclude`` is set.
    """
    excluded = _exclusion(exclude)
    included = _exclusion(include)
    seen = set()
    displays = set()
    out: List[Candidate] = []
    for given in paths:
        if not os.path.lexists(given):
            raise PathNotFound(given)
        if force_exclude and is_excluded(given, exclude):
            continue
        if os.path.isdir(given):
            files: Iterable[Tuple[str, Optional[str]]] = _walk(given, respect_gitignore, excluded, included)
        else:
            files = [(given, None)]
        for file, problem in files:
            key = os.path.realpath(file)
            if key in seen:
                continue
            seen.add(key)
            display = _display(file, key)
            if display in displays:  # two files, one name: show the real path of the later
                display = key
            displays.add(display)
            out.append(Candidate(Path(file), display, problem))
    return out


def _display(file: str, real: str) -> str:
    """The path to show for ``file``: normalised (``./a//b.py`` -> ``a/b.py``) when that
    names the same file. ``d/../x.py`` is ``x.py`` only when ``d`` is a plain directory;
    through a symlink it is another file, and keeps the path as given."""
    normal = os.path.normpath(file)
    if ".." not in file.replace(os.sep, "/").split("/"):
        return normal
    return normal if os.path.realpath(normal) == real else file


def is_candidate(data: bytes, tokens: Sequence[bytes]) -> bool:
    """Does ``data`` hold any of ``tokens`` (lower-case), ignoring case?"""
    if not tokens:
        return False
    lowered = data.lower()
    return any(token in lowered for token in tokens)


# The most walint reads of any one file it is given (a source, a configuration, a
# baseline). Sources over walint.engine.MAX_SOURCE_BYTES are reported rather than parsed,
# but a larger file may still be skipped by the prefilter, so the reader allows more; a
# file beyond this is reported, never read whole (a 10 GB file named *.py, or one that
# grows as it is read).
MAX_READ_BYTES = 64 * 1024 * 1024


class Unreadable(Exception):
    """A file walint will not read; the message says why (a FIFO, a device, too large)."""


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _refuse_irregular(status: os.stat_result) -> None:
    if stat.S_ISDIR(status.st_mode):
        raise IsADirectoryError(21, "Is a directory")
    if not stat.S_ISREG(status.st_mode):
        kind = _kind(status.st_mode)
        raise Unreadable(f"is {kind}, not a regular file; not read" if kind.startswith("a ") else f"is {kind}; not read")


def _too_large(size: int, limit: int) -> Unreadable:
    return Unreadable(
        f"too large to read: {size / 2**20:.1f} MB, over the {limit // 2**20} MB limit (exclude it to skip it)"
    )


_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)  # a FIFO swapped in after the stat opens without a writer
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)


def read_regular(path: "os.PathLike[str] | str", limit: Optional[int] = None) -> bytes:
    """The bytes of the regular file at ``path`` (symlinks followed), at most ``limit``.

    The one reader of user data: sources, configuration and baselines. Anything but a
    regular file (a FIFO, which would block the run forever; ``/dev/zero``, which never
    ends; a socket) is refused before it is opened and again after (``fstat`` on what
    was opened, without blocking), and a file larger than ``limit`` (default
    :data:`MAX_READ_BYTES`) raises
    :class:`Unreadable` instead of being read. Raises OSError as ``open`` would
    (IsADirectoryError for a directory).
    """
    if limit is None:
        limit = MAX_READ_BYTES
    _refuse_irregular(os.stat(path))
    fd = os.open(path, _OPEN_FLAGS)
    try:
        status = os.fstat(fd)
        _refuse_irregular(status)
        if status.st_size > limit:
            raise _too_large(status.st_size, limit)
        chunks = []
        total = 0
        while True:
            # The size first, then until end of file: it may have grown since the fstat.
            want = max(status.st_size - total, 0) + 1 if not chunks else 1024 * 1024
            chunk = os.read(fd, min(want, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                raise _too_large(total, limit)
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_named(path: "os.PathLike[str] | str") -> bytes:
    """:func:`read_regular` for a file the user named (a configuration, a baseline), where
    anything that stops the read is an :class:`Unreadable` whose message says why."""
    try:
        return read_regular(path)
    except OSError as error:
        raise Unreadable(error.strerror or str(error)) from None


def read_bytes(path: Path) -> Tuple[Optional[bytes], Optional[str]]:
    """The file's bytes, or a message saying why it could not be read (see :func:`read_regular`)."""
    try:
        return read_regular(path), None
    except Unreadable as error:
        return None, str(error)
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

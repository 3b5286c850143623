"""Every file walint writes goes through here: atomically, never through a symlink that
leaves the tree it was aimed at, never into a special file.

``fix`` rewrites checked files (:func:`walint.fixer.write_change`); baselines, reports
(``-o``) and ``walint helper --output`` write new outputs with :func:`write_output`. A
checked repository may commit a symlink where an output is expected, so both follow the
same rule: the real target must stay inside the directory the path names.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import signal
import stat
import tempfile
import threading
import time
from typing import Callable, Dict, Iterator, List, Optional, Sequence


class UnsafeWrite(Exception):
    """A write that walint refuses; the message says why, and nothing was written."""


def inside(path: str, roots: Sequence[str]) -> bool:
    for root in roots:
        try:
            if os.path.commonpath([path, root]) == root:
                return True
        except ValueError:  # different drives
            continue
    return False


def real_root(root: str) -> str:
    """A directory root, resolved; a file named as a root stands for its directory, so a
    symlink named on the command line does not let writes escape to where it points."""
    if os.path.isdir(root):
        return os.path.realpath(root)
    # dirname before abspath: abspath("d/../x.py") drops "d/.." without resolving d.
    return os.path.realpath(os.path.dirname(root) or os.curdir)


def write_output(path: str, data: bytes) -> None:
    """Create or replace the output file ``path`` with ``data``.

    A symlink is written through only when its target exists and lies inside the
    directory holding the link; a dangling link, a link out of that directory, and
    anything but a regular file are refused with :class:`UnsafeWrite`. Missing parent
    directories are created.
    """
    absolute = os.path.abspath(path)
    directory = os.path.dirname(absolute)
    status: Optional[os.stat_result] = None
    target = absolute
    if os.path.islink(absolute):
        target = os.path.realpath(absolute)
        if not os.path.lexists(target) or not os.path.exists(absolute):
            raise UnsafeWrite("is a dangling symbolic link; not written")
        if not inside(target, [os.path.realpath(directory)]):
            raise UnsafeWrite("is a symbolic link to a file outside its directory; not written")
    if os.path.lexists(target):
        status = os.stat(target)
        if not stat.S_ISREG(status.st_mode):
            raise UnsafeWrite("is not a regular file; not written")
    else:
        os.makedirs(directory, exist_ok=True)
    write_atomically(target, data, status)


def write_atomically(
    path: str,
    data: bytes,
    status: Optional[os.stat_result] = None,
    *,
    mode: Optional[int] = None,
    durable: bool = True,
    keep_owner: bool = False,
    before_replace: Optional[Callable[[], None]] = None,
) -> None:
    """Replace (or create) the file at ``path`` with ``data``: a temporary file in the
    same directory, fsync'd, given the original's owner and then its mode (in that order:
    chown clears set-user-ID bits), or ``mode``, or the umask's default for a new file,
    then ``os.replace``d.

    Readers see the old bytes or the new ones, never a mix; on any failure the temporary
    file is removed and the original is untouched, and so on SIGTERM or SIGHUP (in the
    main thread), which raise SystemExit here for the cleanup to run. ``durable=False``
    skips the fsyncs, for data that is only a cache. With ``keep_owner``, a replacement
    that could not be given the original's owner and group raises :class:`UnsafeWrite`
    instead of taking the file from its owner. ``before_replace`` runs last, right before
    the rename: it may raise to leave everything as it was.
    """
    if status is None and mode is None:
        try:
            status = os.stat(path)
        except FileNotFoundError:
            mode = 0o666 & ~_umask()
    directory = os.path.dirname(path) or "."
    with _cleanup_on_termination():
        fd, temporary = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=TEMPORARY_SUFFIX, dir=directory)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                if durable:
                    handle.flush()
                    os.fsync(handle.fileno())
            if status is not None:
                if hasattr(os, "chown"):
                    try:
                        os.chown(temporary, status.st_uid, status.st_gid)
                    except OSError:
                        pass  # not ours to give away; checked below when that matters
                    if keep_owner:
                        _check_owner(temporary, status)
                mode = stat.S_IMODE(status.st_mode)
            if mode is not None:
                os.chmod(temporary, mode)
            if before_replace is not None:
                before_replace()
            os.replace(temporary, path)
        except BaseException:
            try:
                os.unlink(temporary)
            except OSError:
                pass
            raise
    if durable:
        _fsync_directory(directory)


def _check_owner(temporary: str, status: os.stat_result) -> None:
    now = os.stat(temporary)
    if (now.st_uid, now.st_gid) != (status.st_uid, status.st_gid):
        raise UnsafeWrite(
            f"is owned by {status.st_uid}:{status.st_gid} (user:group), which walint cannot give "
            f"the rewritten file (it would belong to {now.st_uid}:{now.st_gid}); not written"
        )


class _Terminated(SystemExit):
    """SIGTERM or SIGHUP while a temporary file existed; it is removed, then the exit goes on."""


@contextlib.contextmanager
def _cleanup_on_termination() -> Iterator[None]:
    """Turn SIGTERM and SIGHUP into SystemExit meanwhile, so that ``except BaseException``
    removes the temporary file (SIGINT already raises KeyboardInterrupt). Only the main
    thread may set handlers; elsewhere, and for SIGKILL, the next ``walint fix`` removes
    what is left (:func:`remove_stale_temporaries`)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}

    def terminate(number: int, frame: object) -> None:
        raise _Terminated(128 + number)

    for name in ("SIGTERM", "SIGHUP"):
        number = getattr(signal, name, None)
        if number is None:
            continue
        try:
            current = signal.getsignal(number)
            if current in (signal.SIG_DFL, None):  # a handler someone set stays theirs
                previous[number] = signal.signal(number, terminate)
        except (OSError, ValueError):
            continue
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


# mkstemp's temporary names: ".NAME." + 8 of [a-z0-9_] + this suffix.
TEMPORARY_SUFFIX = ".walint-tmp"
# A temporary file this old belongs to no write in progress (a write takes well under a
# second): it was left by a walint that was killed (SIGKILL, power loss).
STALE_AFTER_SECONDS = 15 * 60


_ANY_TEMPORARY_RE = re.compile(r"\.(?P<name>.+)\.[a-z0-9_]{8}" + re.escape(TEMPORARY_SUFFIX))
# Directory -> {file name -> its stale temporaries}: each directory is listed once a run,
# however many of its files are written.
_stale: Dict[str, Dict[str, List[str]]] = {}


def remove_stale_temporaries(path: str, now: Optional[float] = None) -> List[str]:
    """Remove the temporary files a killed walint left beside ``path`` and return their
    names: only regular files named exactly as walint names them for ``path``
    (``.NAME.xxxxxxxx.walint-tmp``), owned by this user and older than
    :data:`STALE_AFTER_SECONDS`. Anything else, and any error, is left alone."""
    directory = os.path.dirname(path) or "."
    by_name = _stale.get(directory)
    if by_name is None:
        by_name = _stale[directory] = _stale_temporaries(directory, now)
    removed = []
    for name in by_name.pop(os.path.basename(path), []):
        try:
            os.unlink(os.path.join(directory, name))
        except OSError:
            continue
        removed.append(name)
    return removed


def _stale_temporaries(directory: str, now: Optional[float]) -> Dict[str, List[str]]:
    limit = (time.time() if now is None else now) - STALE_AFTER_SECONDS
    found: Dict[str, List[str]] = {}
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return found
    for entry in entries:
        match = _ANY_TEMPORARY_RE.fullmatch(entry.name)
        if match is None:
            continue
        try:
            status = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISREG(status.st_mode) or status.st_mtime > limit:
            continue
        if hasattr(os, "geteuid") and status.st_uid != os.geteuid():
            continue
        found.setdefault(match.group("name"), []).append(entry.name)
    return found


CHANGED_ON_DISK = "changed on disk while walint was fixing it; not written"


class _Changed(Exception):
    pass


def replace_file(path: str, before: bytes, after: bytes) -> Optional[str]:
    """Write ``after`` over the regular file ``path`` (symlinks already resolved) if it
    still holds ``before``; None on success, else why the file was left alone.

    Refused: a file that is not regular, read-only, has hard links (replacing one name
    would split it from the others; writing in place would lose atomicity: walint
    chooses to leave it to a person), is being fixed by another walint (an advisory
    ``flock``, where the platform has one), whose owner or group the rewritten file
    could not keep (a group member fixing a group-writable file), or that no longer
    holds ``before``. That last comparison is made twice: when the file is opened, and
    again after the new bytes are written, fsync'd and given their owner and mode, right
    before the rename; the second also checks that the path still names the same file.

    What remains: a write by another program in the moment between that last check and
    the rename is lost, and so is a write through a descriptor opened before the rename
    (an editor that keeps the file open writes into the replaced file). ``flock`` is
    advisory: only walint honours it. Temporary files left by a walint that was killed
    are removed here, by the next ``walint fix`` (:func:`remove_stale_temporaries`).
    """
    try:
        fd = os.open(path, _READ_FLAGS)
    except OSError as error:
        return f"cannot be read back before writing: {error.strerror or error}"
    try:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):
            return "is not a regular file; not written"
        if not status.st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH) or not os.access(path, os.W_OK):
            return "is read-only; not written"
        if status.st_nlink > 1:
            return (
                f"has {status.st_nlink} hard links, which replacing it would separate; "
                "not written (fix it by hand, or break the links first)"
            )
        if not _lock(fd):
            return "is being written by another walint process; not written"
        try:
            if not _holds(fd, before):
                return CHANGED_ON_DISK
        except OSError as error:
            return f"cannot be read back before writing: {error.strerror or error}"
        remove_stale_temporaries(path)

        def unchanged() -> None:
            now = os.stat(path)
            if (now.st_dev, now.st_ino) != (status.st_dev, status.st_ino) or not _holds(fd, before):
                raise _Changed()

        try:
            write_atomically(path, after, status, keep_owner=True, before_replace=unchanged)
        except _Changed:
            return CHANGED_ON_DISK
        except UnsafeWrite as error:
            return str(error)
        except OSError as error:
            return f"cannot be written: {error.strerror or error}; the file is unchanged"
        return None
    finally:
        os.close(fd)  # and with it the lock


_READ_FLAGS = (
    os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)


def _lock(fd: int) -> bool:
    """An exclusive advisory lock on the open file, without waiting; False when another
    process holds one. Where locks are unsupported, go on without."""
    try:
        import fcntl
    except ImportError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError:
        return True
    return True


def _holds(fd: int, expected: bytes) -> bool:
    """Does the open file hold exactly ``expected`` (read from its start, no further than
    one byte past it)?"""
    chunks = []
    offset, want = 0, len(expected) + 1
    while offset < want:
        chunk = os.pread(fd, want - offset, offset) if hasattr(os, "pread") else _read_at(fd, want - offset, offset)
        if not chunk:
            break
        chunks.append(chunk)
        offset += len(chunk)
    return hashlib.sha256(b"".join(chunks)).digest() == hashlib.sha256(expected).digest()


def _read_at(fd: int, size: int, offset: int) -> bytes:
    os.lseek(fd, offset, os.SEEK_SET)
    return os.read(fd, size)


def _umask() -> int:
    current = os.umask(0o022)
    os.umask(current)
    return current


def _fsync_directory(directory: str) -> None:
    """Make the rename durable (POSIX); best effort, as on filesystems that refuse it."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)

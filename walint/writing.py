"""Every file walint writes goes through here: atomically, never through a symlink that
leaves the tree it was aimed at, never into a special file.

``fix`` rewrites checked files (:func:`walint.fixer.write_change`); baselines, reports
(``-o``) and ``walint helper --output`` write new outputs with :func:`write_output`. A
checked repository may commit a symlink where an output is expected, so both follow the
same rule: the real target must stay inside the directory the path names.
"""

from __future__ import annotations

import os
import stat
import tempfile
from typing import Optional, Sequence


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
    path: str, data: bytes, status: Optional[os.stat_result] = None, *, mode: Optional[int] = None, durable: bool = True
) -> None:
    """Replace (or create) the file at ``path`` with ``data``: a temporary file in the
    same directory, fsync'd, given the original's mode and owner (or ``mode``, or the
    umask's default for a new file), then ``os.replace``d.

    Readers see the old bytes or the new ones, never a mix; on any failure the temporary
    file is removed and the original is untouched. ``durable=False`` skips the fsyncs, for
    data that is only a cache.
    """
    if status is None and mode is None:
        try:
            status = os.stat(path)
        except FileNotFoundError:
            mode = 0o666 & ~_umask()
    directory = os.path.dirname(path) or "."
    fd, temporary = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".walint-tmp", dir=directory)
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
                    pass  # not ours to give away; the mode is what matters
            mode = stat.S_IMODE(status.st_mode)
        if mode is not None:
            os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise
    if durable:
        _fsync_directory(directory)


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

"""Per-file results kept between runs, in ``.walint_cache/`` (like ruff's ``.ruff_cache``).

An entry is one file's :class:`~walint.engine.FileResult`, summary included, so the
project pass can join a cached file like a freshly analysed one. Its key hashes
everything the result depends on: the file's bytes and path, walint's own code, the
effective settings and, for a file re-analysed by the project pass, what it imports.

A cache directory is input from whoever could write it: a cloned repository can commit
one, another user can create it first. So an entry is plain JSON (never pickle), decoded
field by field, and authenticated with an HMAC under a per-user secret that lives in the
user's own cache home, outside any checked tree: an entry walint did not write for this
user, or one moved to another key, is a miss. A cache folder owned by someone else,
writable by others, holding a symlink, or not created by walint is refused with a warning
and the run goes on without it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import stat
import sys
import tempfile
from pathlib import Path
from typing import Callable, Dict, Mapping, Optional, Protocol

from walint import __version__
from walint.console import warn
from walint.settings import Settings
from walint.writing import write_atomically

DEFAULT_DIRECTORY = ".walint_cache"
# Bump when the entry layout changes; the code fingerprint covers FileResult's shape.
_FORMAT = "11"
_TAG_SIGNATURE = b"Signature: 8a477f597d28d172789f06886806bc55\n"
_TAG = _TAG_SIGNATURE + b"# This cache directory was created by walint.\n"
_SECRET_BYTES = 32
# Results are a few kilobytes; anything far larger was not written by walint.
_MAX_ENTRY_BYTES = 64 * 1024 * 1024
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)

Warn = Callable[[str], None]


class Cache:
    """A directory of authenticated per-file results, keyed by content hash."""

    def __init__(self, directory: str = DEFAULT_DIRECTORY, warn: Warn = warn) -> None:
        self.root = Path(directory)
        self.directory = self.root / f"{__version__}-{_FORMAT}"
        self._warn = warn
        self._secret: Optional[bytes] = None
        # None: not looked at yet; then whether entries may be read and written.
        self._usable: Optional[bool] = None
        self._checked_shards: set = set()

    @staticmethod
    def key(path: str, data: bytes, settings: Settings, external: Optional[Mapping[str, object]] = None) -> str:
        digest = hashlib.sha256()
        for part in (_FORMAT, code_fingerprint(), repr(settings), path, repr(sorted((external or {}).items()))):
            digest.update(part.encode("utf-8", "surrogatepass"))
            digest.update(b"\0")
        digest.update(data)
        return digest.hexdigest()

    def get(self, key: str) -> Optional[object]:
        """The result stored under ``key``, or None: missing, damaged, or not written by us."""
        if not self._ready():
            return None
        try:
            raw = self._read_entry(key)
        except OSError:
            return None
        if raw is None or len(raw) < 65 or raw[64:65] != b"\n":
            return None
        mac, payload = raw[:64], raw[65:]
        if not hmac.compare_digest(mac, self._mac(key, payload).encode("ascii")):
            return None
        from walint.findings import FileResult
        from walint.plain import PlainDataError, from_plain

        try:
            return from_plain(FileResult, json.loads(payload.decode("utf-8")))
        except (PlainDataError, ValueError, TypeError, RecursionError):
            return None

    def put(self, key: str, value: object) -> None:
        if not self._ready():
            return
        from walint.plain import PlainDataError, to_plain

        try:
            payload = json.dumps(to_plain(value), separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogatepass")
        except (PlainDataError, ValueError):
            return
        try:
            folder = self._shard(key, create=True)
            if folder is None:
                return
            _write_entry(folder / key, self._mac(key, payload).encode("ascii") + b"\n" + payload)
        except OSError:
            pass  # a read-only tree or a full disk only costs speed

    # ----- trust ----------------------------------------------------------------------

    def _mac(self, key: str, payload: bytes) -> str:
        assert self._secret is not None
        return hmac.new(self._secret, key.encode("ascii") + b"\0" + payload, hashlib.sha256).hexdigest()

    def _ready(self) -> bool:
        if self._usable is None:
            problem = self._open()
            self._usable = problem is None
            if problem is not None:
                self._warn(f"{problem}; running without the cache")
        return self._usable

    def _open(self) -> Optional[str]:
        """Create or adopt the cache directory; why it cannot be used, or None."""
        self._secret, problem = user_secret()
        if self._secret is None:
            return problem
        root = self.root
        if str(root) in ("", "."):
            return "the cache directory cannot be the current directory"
        try:
            if not os.path.lexists(root):
                parent = root.parent
                parent.mkdir(parents=True, exist_ok=True)
                os.mkdir(root, 0o700)
                _write_entry(root / ".gitignore", b"# Automatically created by walint.\n*\n")
                _write_entry(root / "CACHEDIR.TAG", _TAG)
            problem = _untrusted_directory(root)
            if problem is not None:
                return f"cache directory {root} {problem}"
            if not _is_walint_cache(root):
                return (
                    f"cache directory {root} exists and was not created by walint (it has no walint "
                    "CACHEDIR.TAG); name a new directory"
                )
            if not os.path.lexists(self.directory):
                os.mkdir(self.directory, 0o700)
            problem = _untrusted_directory(self.directory)
            if problem is not None:
                return f"cache directory {self.directory} {problem}"
        except OSError as error:
            return f"cannot use the cache directory {root}: {error.strerror or error}"
        return None

    def _shard(self, key: str, create: bool) -> Optional[Path]:
        folder = self.directory / key[:2]
        if folder.name in self._checked_shards:
            return folder
        if create and not os.path.lexists(folder):
            try:
                os.mkdir(folder, 0o700)
            except FileExistsError:
                pass
        if _untrusted_directory(folder) is not None:
            return None
        self._checked_shards.add(folder.name)
        return folder

    def _read_entry(self, key: str) -> Optional[bytes]:
        folder = self._shard(key, create=False)
        if folder is None:
            return None
        fd = os.open(folder / key, os.O_RDONLY | _NOFOLLOW | _NONBLOCK)
        try:
            status = os.fstat(fd)
            if not stat.S_ISREG(status.st_mode) or status.st_size > _MAX_ENTRY_BYTES:
                return None
            with os.fdopen(fd, "rb", closefd=False) as handle:
                return handle.read(_MAX_ENTRY_BYTES + 1)
        finally:
            os.close(fd)


class Results(Protocol):
    """Where a run looks up, and keeps, per-file results: a :class:`Cache`, or the
    :class:`Remembered` results of a ``walint fix`` run."""

    def key(self, path: str, data: bytes, settings: Settings, external: Optional[Mapping[str, object]] = None) -> str: ...

    def get(self, key: str) -> Optional[object]: ...

    def put(self, key: str, value: object) -> None: ...


class Remembered:
    """The results of one ``walint fix`` run, kept in memory in front of its cache (if any).

    ``walint fix`` checks every file again after each round of fixes, and only the files
    a round changed, and what imports them, have anything new to say.
    """

    key = staticmethod(Cache.key)

    def __init__(self, behind: Optional[Results] = None) -> None:
        self.behind = behind
        self.results: Dict[str, object] = {}

    def get(self, key: str) -> Optional[object]:
        if key in self.results:
            return self.results[key]
        return self.behind.get(key) if self.behind is not None else None

    def put(self, key: str, value: object) -> None:
        self.results[key] = value
        if self.behind is not None:
            self.behind.put(key, value)


def _write_entry(path: Path, data: bytes) -> None:
    write_atomically(str(path), data, mode=0o600, durable=False)


def _untrusted_directory(path: Path) -> Optional[str]:
    """Why a cache directory must not be used (a symlink, another owner, writable by
    others), or None. Only its owner may add or swap entries in it."""
    try:
        status = os.lstat(path)
    except OSError as error:
        return f"cannot be inspected: {error.strerror or error}"
    if stat.S_ISLNK(status.st_mode):
        return "is a symbolic link"
    if not stat.S_ISDIR(status.st_mode):
        return "is not a directory"
    if hasattr(os, "geteuid") and status.st_uid != os.geteuid():
        return "is owned by another user"
    if status.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return "is writable by other users"
    return None


def _is_walint_cache(root: Path) -> bool:
    try:
        fd = os.open(root / "CACHEDIR.TAG", os.O_RDONLY | _NOFOLLOW | _NONBLOCK)
    except OSError:
        return False
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return False
        tag = os.read(fd, 4096)
    finally:
        os.close(fd)
    # Earlier walint versions wrote "# Created by walint." under the same signature.
    return tag.startswith(_TAG_SIGNATURE) and b"walint" in tag[len(_TAG_SIGNATURE) :]


# ----- the per-user secret and walint's own code ----------------------------------------


def user_cache_home() -> Path:
    """Where this user's caches live: ``$XDG_CACHE_HOME``, ``~/Library/Caches`` or
    ``%LOCALAPPDATA%``, else ``~/.cache``."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    if xdg and os.path.isabs(xdg):
        return Path(xdg)
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches"
    local = os.environ.get("LOCALAPPDATA", "")
    if sys.platform == "win32" and local:
        return Path(local)
    return Path.home() / ".cache"


_secret_memo: dict = {}


def user_secret() -> "tuple[Optional[bytes], Optional[str]]":
    """This user's cache key (created on first use, mode 0600), or None and why not."""
    try:
        home = user_cache_home() / "walint"
    except RuntimeError as error:  # no home directory to find
        return None, f"no user cache directory for the cache key ({error})"
    if str(home) in _secret_memo:
        return _secret_memo[str(home)], None
    path = home / "secret"
    try:
        home.mkdir(parents=True, exist_ok=True, mode=0o700)
        problem = _untrusted_directory(home)
        if problem is not None:
            return None, f"{home} {problem}"
        if not os.path.lexists(path):
            fd, temporary = tempfile.mkstemp(dir=home, prefix=".secret-")
            try:
                os.write(fd, os.urandom(_SECRET_BYTES).hex().encode("ascii"))
                os.fsync(fd)
            finally:
                os.close(fd)
            try:
                os.link(temporary, path)  # never replaces a secret another run just made
            except FileExistsError:
                pass
            finally:
                os.unlink(temporary)
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW | _NONBLOCK)
        try:
            status = os.fstat(fd)
            secret = os.read(fd, 2 * _SECRET_BYTES + 1)
        finally:
            os.close(fd)
    except OSError as error:
        return None, f"cannot keep the cache key in {home}: {error.strerror or error}"
    if not stat.S_ISREG(status.st_mode) or len(secret) != 2 * _SECRET_BYTES:
        return None, f"{path} is not a cache key walint wrote"
    if hasattr(os, "geteuid") and (status.st_uid != os.geteuid() or status.st_mode & 0o077):
        return None, f"{path} is readable or owned by another user"
    _secret_memo[str(home)] = secret
    return secret, None


_fingerprint_memo: list = []


def code_fingerprint() -> str:
    """A hash of walint's own modules: a changed rule invalidates the cache even when the
    version number stays the same."""
    if not _fingerprint_memo:
        digest = hashlib.sha256(__version__.encode())
        package = Path(__file__).resolve().parent
        for module in sorted(package.rglob("*.py")):
            digest.update(module.relative_to(package).as_posix().encode("utf-8", "surrogateescape") + b"\0")
            digest.update(module.read_bytes())
        _fingerprint_memo.append(digest.hexdigest())
    return _fingerprint_memo[0]

"""Per-file results kept between runs, in ``.walint_cache/`` (like ruff's ``.ruff_cache``).

An entry is one file's :class:`~walint.engine.FileResult`, summary included, so the
project pass can join a cached file like a freshly analysed one. Its key hashes
everything the result depends on: the file's bytes and path, walint's version, the
effective settings and, for a file re-analysed by the project pass, what it imports.
Entries are written to a temporary file and renamed into place, so concurrent runs never
read half an entry; an entry that cannot be read is a miss.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from pathlib import Path
from typing import Mapping, Optional

from walint import __version__
from walint.settings import Settings

DEFAULT_DIRECTORY = ".walint_cache"
# Bump when FileResult or what it holds changes shape.
_FORMAT = "2"


class Cache:
    """A directory of pickled per-file results, keyed by content hash."""

    def __init__(self, directory: str = DEFAULT_DIRECTORY) -> None:
        self.root = Path(directory)
        self.directory = self.root / f"{__version__}-{_FORMAT}"
        self._ready = False

    @staticmethod
    def key(path: str, data: bytes, settings: Settings, external: Optional[Mapping[str, object]] = None) -> str:
        digest = hashlib.sha256()
        for part in (__version__, _FORMAT, repr(settings), path, repr(sorted((external or {}).items()))):
            digest.update(part.encode("utf-8", "surrogatepass"))
            digest.update(b"\0")
        digest.update(data)
        return digest.hexdigest()

    def get(self, key: str) -> Optional[object]:
        try:
            with open(self.directory / key[:2] / key, "rb") as handle:
                return pickle.load(handle)
        except Exception:  # missing, truncated by a crash, or from another walint: a miss
            return None

    def put(self, key: str, value: object) -> None:
        try:
            self._prepare()
            folder = self.directory / key[:2]
            folder.mkdir(exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=folder, prefix=".tmp-")
            try:
                with os.fdopen(handle, "wb") as out:
                    pickle.dump(value, out, protocol=pickle.HIGHEST_PROTOCOL)
                os.replace(temporary, folder / key)
            except BaseException:
                try:
                    os.unlink(temporary)
                except OSError:
                    pass
                raise
        except OSError:
            pass  # a read-only tree or a full disk only costs speed

    def _prepare(self) -> None:
        if self._ready:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        ignore = self.root / ".gitignore"
        if not ignore.exists():
            # Like ruff: the cache ignores itself, wherever it is put.
            _write_atomically(ignore, b"# Automatically created by walint.\n*\n")
        tag = self.root / "CACHEDIR.TAG"
        if not tag.exists():
            _write_atomically(tag, b"Signature: 8a477f597d28d172789f06886806bc55\n# Created by walint.\n")
        self._ready = True


def _write_atomically(path: Path, data: bytes) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    with os.fdopen(handle, "wb") as out:
        out.write(data)
    os.replace(temporary, path)

"""Fixed code is right at run time: the fixtures, after `walint fix`, run against real SQLite.

The vulnerable shape of DESIGN.md §1 (``fixtures/fix/board_store.py``) downgrades a WAL
database when "disk I/O error" strikes; the fixed module surfaces transient errors, never
downgrades a file that is in WAL, and still falls back on a brand-new file when WAL is
unsupported. The fixed modules are produced by `walint fix` in the test, not read from
the checked-in ``.fixed.py``, so this tests the fix itself.
"""

from __future__ import annotations

import importlib.util
import shutil
import sqlite3
import sys
from pathlib import Path
from types import ModuleType

import pytest

from runtime_faults import (
    FOREVER,
    MODE_PRAGMA,
    WAL_PRAGMA,
    FaultyConnection,
    disk_io_error,
    locking_protocol_error,
)
from walint.cli import run
from walint.runtime import journal_mode_on_disk

FIX_FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "fix"


def _load(path: Path) -> ModuleType:
    name = f"walint_fixture_{path.stem}_{abs(hash(str(path)))}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def modules(tmp_path_factory):
    """(vulnerable, fixed) versions of each fixture module under test."""
    work = tmp_path_factory.mktemp("fixed")
    loaded = {}
    for stem in ("board_store", "flag_fallback", "swallowed", "cache_db"):
        original = work / "original" / f"{stem}.py"
        fixed = work / "fixed" / f"{stem}.py"
        for target in (original, fixed):
            target.parent.mkdir(exist_ok=True)
            shutil.copyfile(FIX_FIXTURES / f"{stem}.py", target)
        assert run(["fix", "--quiet", str(fixed)]) == 0
        loaded[stem] = (_load(original), _load(fixed))
    return loaded


def _inject(monkeypatch, error, failures=FOREVER, pattern=WAL_PRAGMA):
    """Make every connection the module opens fail its WAL pragma with ``error``."""
    real_connect = sqlite3.connect
    opened = []

    def connect(*args, **kwargs):
        conn = FaultyConnection(real_connect(*args, **kwargs), error, failures, pattern)
        opened.append(conn)
        return conn

    monkeypatch.setattr(sqlite3, "connect", connect)
    return opened


def _wal_database(path: Path) -> sqlite3.Connection:
    """A database another process already put in WAL; the connection stays open (a sibling)."""
    sibling = sqlite3.connect(path)
    assert sibling.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal"
    sibling.execute("CREATE TABLE IF NOT EXISTS cards (id INTEGER PRIMARY KEY, title TEXT)")
    sibling.commit()
    return sibling


def test_the_vulnerable_shape_downgrades_a_wal_file_on_a_transient_error(modules, tmp_path, monkeypatch):
    vulnerable, _ = modules["board_store"]
    path = tmp_path / "board.db"
    _wal_database(path).close()
    _inject(monkeypatch, disk_io_error)
    conn = vulnerable.connect(str(path))
    conn.close()
    # The hazard: the header on disk now says rollback journal while siblings may write WAL.
    assert journal_mode_on_disk(str(path)) == "delete"


def test_fixed_shape_surfaces_a_transient_error_and_keeps_wal(modules, tmp_path, monkeypatch):
    _, fixed = modules["board_store"]
    path = tmp_path / "board.db"
    sibling = _wal_database(path)
    _inject(monkeypatch, disk_io_error, pattern=MODE_PRAGMA)
    with pytest.raises(sqlite3.OperationalError, match="disk I/O error"):
        fixed.connect(str(path))
    assert journal_mode_on_disk(str(path)) == "wal"
    sibling.execute("INSERT INTO cards (title) VALUES ('still here')")
    sibling.commit()
    assert sibling.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    sibling.close()


def test_fixed_shape_retries_a_transient_error_that_clears(modules, tmp_path, monkeypatch):
    _, fixed = modules["board_store"]
    path = tmp_path / "board.db"
    opened = _inject(monkeypatch, disk_io_error, failures=2)
    conn = fixed.connect(str(path))
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert opened[0].injected == 2
    conn.close()


def test_fixed_shape_never_downgrades_a_wal_file_on_locking_protocol(modules, tmp_path, monkeypatch):
    _, fixed = modules["board_store"]
    path = tmp_path / "board.db"
    sibling = _wal_database(path)
    # On NFS even reading the mode of a WAL database fails: the -shm file is needed.
    _inject(monkeypatch, locking_protocol_error, pattern=MODE_PRAGMA)
    with pytest.raises(sqlite3.OperationalError, match="locking protocol"):
        fixed.connect(str(path))
    assert journal_mode_on_disk(str(path)) == "wal"
    sibling.close()


@pytest.mark.parametrize(
    "stem, opener, by_helper",
    [
        ("board_store", "connect", True),
        ("swallowed", "open_buffer", True),
        # open_cache's try does more than set WAL, so its fix is the guard, not the helper.
        ("cache_db", "open_cache", False),
    ],
)
def test_fixed_code_still_falls_back_on_a_new_file_without_wal_support(
    modules, stem, opener, by_helper, tmp_path, monkeypatch, caplog
):
    _, fixed = modules[stem]
    path = tmp_path / "fresh.db"
    _inject(monkeypatch, locking_protocol_error)
    conn = getattr(fixed, opener)(str(path))
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    fallback_logged = any(record.name == "walint.runtime" for record in caplog.records)
    assert fallback_logged == by_helper
    conn.close()


def test_fixed_flag_form_refuses_the_downgrade_of_a_wal_file(modules, tmp_path, monkeypatch):
    vulnerable, fixed = modules["flag_fallback"]
    path = tmp_path / "queue.db"
    sibling = _wal_database(path)
    _inject(monkeypatch, disk_io_error)
    fixed._use_wal = True
    with pytest.raises(sqlite3.OperationalError, match="refusing to leave WAL"):
        fixed.open_queue(str(path))
    assert journal_mode_on_disk(str(path)) == "wal"
    sibling.close()

"""Tests for walint.runtime, the helper that fixed code calls.

Everything runs against real SQLite files in tmp_path; errors SQLite will not produce on
demand (NFS's "locking protocol", a flaky disk) are injected by tests/runtime_faults.py.
"""

from __future__ import annotations

import ast
import asyncio
import functools
import json
import logging
import os
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runtime_faults import (
    FOREVER,
    MODE_PRAGMA,
    WAL_PRAGMA,
    FaultyConnection,
    disk_io_error,
    locking_protocol_error,
    mode_pragma,
    operational_error,
    record_statements,
)
from walint import runtime
from walint.runtime import (
    apply_wal_with_fallback,
    apply_wal_with_fallback_async,
    classify_error,
    journal_mode_on_disk,
)

REPO = Path(__file__).resolve().parents[1]
FAULTS = Path(__file__).resolve().with_name("runtime_faults.py")
# Subprocesses import walint from this checkout whether or not it is installed.
ENV = dict(
    os.environ,
    PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
)

SETS_MODE = re.compile(r"journal_mode\s*=", re.I)
SETS_DELETE = re.compile(r"journal_mode\s*=\s*delete", re.I)

PRIME_WAL = (
    "import sqlite3, sys\n"
    "c = sqlite3.connect(sys.argv[1])\n"
    "assert c.execute('PRAGMA journal_mode=WAL').fetchone()[0] == 'wal'\n"
    "c.execute('CREATE TABLE t (x)')\n"
    "c.execute('INSERT INTO t VALUES (1)')\n"
    "c.commit()\n"
    "c.close()\n"
)


@pytest.fixture(autouse=True)
def fresh_warning_registry(monkeypatch):
    monkeypatch.setattr(runtime, "_warned", set())


@pytest.fixture
def connect():
    """sqlite3.connect, with every connection closed when the test ends."""
    opened = []

    def _connect(*args, **kwargs):
        conn = sqlite3.connect(*args, **kwargs)
        opened.append(conn)
        return conn

    yield _connect
    for conn in opened:
        conn.close()


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "app.db"


def header_versions(path):
    data = Path(path).read_bytes()[:100]
    return data[18], data[19]


def prime_wal_in_other_process(path):
    """Another process puts the file in WAL and exits; the mode persists in the header."""
    subprocess.run([sys.executable, "-c", PRIME_WAL, str(path)], check=True, timeout=60)
    assert header_versions(path) == (2, 2)


def make_rollback_db(path):
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("CREATE TABLE t (x)")
        conn.execute("INSERT INTO t VALUES (1)")
    conn.close()
    assert header_versions(path) == (1, 1)


def warnings_from(caplog):
    return [
        r for r in caplog.records if r.name == "walint.runtime" and r.levelno == logging.WARNING
    ]


# --- apply_wal_with_fallback: the happy paths --------------------------------


def test_already_wal_returns_without_the_mutating_pragma(db_path, connect):
    prime_wal_in_other_process(db_path)
    conn = connect(db_path)
    seen = record_statements(conn)

    assert apply_wal_with_fallback(conn) == "wal"
    assert seen, "the trace callback saw nothing; the test would prove nothing"
    assert not [s for s in seen if SETS_MODE.search(s)]


def test_fresh_file_is_switched_to_wal(db_path, connect):
    conn = connect(db_path)
    seen = record_statements(conn)

    assert apply_wal_with_fallback(conn) == "wal"
    assert header_versions(db_path) == (2, 2)
    assert len([s for s in seen if WAL_PRAGMA.match(s)]) == 1


def test_memory_database_refusal_is_reported_as_is(connect):
    assert apply_wal_with_fallback(connect(":memory:")) == "memory"


def test_cursor_is_accepted(db_path, connect):
    cursor = connect(db_path).cursor()
    assert apply_wal_with_fallback(cursor) == "wal"
    assert journal_mode_on_disk(cursor) == "wal"


class ExecuteOnly:
    """apsw-shaped: execute() returns an iterator of rows, no fetch methods."""

    def __init__(self, conn, row_factory=tuple):
        self._conn = conn
        self._row_factory = row_factory

    def execute(self, sql):
        cursor = self._conn.execute(sql)
        names = [d[0] for d in cursor.description or ()]
        if self._row_factory is dict:
            return iter([dict(zip(names, row)) for row in cursor.fetchall()])
        return iter(cursor.fetchall())


class FetchoneOnly:
    def __init__(self, conn):
        self._conn = conn

    def execute(self, sql):
        cursor = self._conn.execute(sql)
        return type("Cursor", (), {"fetchone": staticmethod(cursor.fetchone)})()


@pytest.mark.parametrize(
    "shape",
    ["iterator-of-tuples", "iterator-of-dicts", "fetchone-only", "sqlite3.Row", "dict-rows"],
)
def test_row_shapes_and_duck_typed_connections(db_path, shape, connect):
    real = connect(db_path)
    if shape == "iterator-of-tuples":
        conn = ExecuteOnly(real)
    elif shape == "iterator-of-dicts":
        conn = ExecuteOnly(real, dict)
    elif shape == "fetchone-only":
        conn = FetchoneOnly(real)
    elif shape == "sqlite3.Row":
        real.row_factory = sqlite3.Row
        conn = real
    else:
        real.row_factory = lambda cursor, row: {d[0]: v for d, v in zip(cursor.description, row)}
        conn = real

    assert journal_mode_on_disk(conn) == "delete"
    assert apply_wal_with_fallback(conn) == "wal"
    assert journal_mode_on_disk(conn) == "wal"
    assert apply_wal_with_fallback(conn) == "wal"


def test_duck_typed_connection_falls_back_too(db_path, connect):
    conn = ExecuteOnly(FaultyConnection(connect(db_path), locking_protocol_error, FOREVER))
    assert apply_wal_with_fallback(conn) == "delete"


def test_no_rows_is_an_error_not_a_guess():
    class Silent:
        def execute(self, sql):
            return None

    with pytest.raises(RuntimeError, match="no row"):
        apply_wal_with_fallback(Silent())


def test_negative_settings_are_rejected(db_path, connect):
    with pytest.raises(ValueError):
        apply_wal_with_fallback(connect(db_path), retries=-1)


# --- transient errors: retry, then re-raise, never downgrade ------------------


@pytest.mark.parametrize(
    "error",
    [
        disk_io_error,
        lambda: operational_error("database is locked", 5, "SQLITE_BUSY"),
        lambda: operational_error("Database Table Is Locked"),  # message only, any case
        lambda: operational_error("opaque", 261),  # SQLITE_BUSY_RECOVERY, code only
        lambda: operational_error("opaque", None, "SQLITE_IOERR_FSYNC"),  # name only
    ],
    ids=["io-error", "locked", "message-only", "code-only", "name-only"],
)
def test_transient_errors_are_retried_with_growing_delays(db_path, error, connect):
    conn = FaultyConnection(connect(db_path), error, 3)
    delays = []

    assert apply_wal_with_fallback(conn, sleep=delays.append) == "wal"
    assert conn.injected == 3
    assert delays == [0.05, 0.1, 0.2]
    assert header_versions(db_path) == (2, 2)


def test_backoff_is_capped(db_path, connect):
    conn = FaultyConnection(connect(db_path), disk_io_error, 5)
    delays = []

    mode = apply_wal_with_fallback(
        conn, retries=5, backoff=0.3, max_backoff=1.0, sleep=delays.append
    )
    assert mode == "wal"
    assert delays == [0.3, 0.6, 1.0, 1.0, 1.0]


def test_real_lock_contention_is_retried(db_path, connect):
    holder = connect(db_path, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN EXCLUSIVE")
    waiter = connect(db_path, timeout=0)
    delays = []

    def sleep(seconds):
        delays.append(seconds)
        if len(delays) == 2:
            holder.execute("COMMIT")

    assert apply_wal_with_fallback(waiter, sleep=sleep) == "wal"
    assert len(delays) == 2


def documented_worst_case(retries, backoff, max_backoff, timeout):
    """The formula apply_wal_with_fallback's docstring gives for a lock never released."""
    return (retries + 1) * timeout + sum(
        min(max_backoff, backoff * 2**k) for k in range(retries)
    )


def test_docstring_states_the_worst_case_wait_and_how_to_shorten_it():
    doc = " ".join(apply_wal_with_fallback.__doc__.split())
    assert "(retries + 1) * timeout + sum(min(max_backoff, backoff * 2**k)" in doc
    # The red team measured ~31.6 s with the defaults and sqlite3's timeout=5.
    assert round(documented_worst_case(5, 0.05, 1.0, 5.0), 1) == 31.6
    assert "about 31.6 s" in doc
    assert "timeout=1" in doc and "retries=0" in doc


def test_a_lock_never_released_waits_as_documented(db_path, connect):
    holder = connect(db_path, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN EXCLUSIVE")
    timeout = 0.05
    waiter = connect(db_path, timeout=timeout)
    delays = []

    started = time.perf_counter()
    with pytest.raises(sqlite3.OperationalError, match="database is locked"):
        apply_wal_with_fallback(waiter, retries=2, sleep=delays.append)
    blocked = time.perf_counter() - started
    holder.execute("ROLLBACK")

    assert delays == [0.05, 0.1]  # injected, so only SQLite's busy handler really waited
    expected = documented_worst_case(2, 0.05, 1.0, timeout) - sum(delays)
    assert expected * 0.9 <= blocked < expected + 2.0, blocked
    assert header_versions(db_path) == (1, 1)


@pytest.mark.parametrize("primed", ["fresh", "wal-from-other-process"])
def test_transient_beyond_retries_reraises_and_keeps_the_mode(db_path, primed, connect):
    if primed == "fresh":
        connect(db_path).close()
        before = "delete"
    else:
        prime_wal_in_other_process(db_path)
        before = "wal"
    real = connect(db_path)
    seen = record_statements(real)
    conn = FaultyConnection(real, disk_io_error, FOREVER, pattern=MODE_PRAGMA)
    delays = []

    with pytest.raises(sqlite3.OperationalError, match="disk I/O error"):
        apply_wal_with_fallback(conn, retries=3, sleep=delays.append)
    assert conn.injected == 4
    assert delays == [0.05, 0.1, 0.2]
    assert not [s for s in seen if SETS_DELETE.search(s)]
    assert journal_mode_on_disk(db_path) == before


# --- permanent markers: fall back only when nobody can be in WAL -------------


def test_locking_protocol_on_a_file_another_process_put_in_wal_reraises(db_path, connect):
    prime_wal_in_other_process(db_path)
    real = connect(db_path)
    seen = record_statements(real)
    # On NFS even reading the mode of a WAL file fails: it needs the -shm file.
    conn = FaultyConnection(real, locking_protocol_error, FOREVER, pattern=MODE_PRAGMA)
    delays = []

    with pytest.raises(sqlite3.OperationalError, match="locking protocol"):
        apply_wal_with_fallback(conn, sleep=delays.append)
    assert delays == []
    assert not [s for s in seen if SETS_DELETE.search(s)]
    assert header_versions(db_path) == (2, 2)
    real.close()
    assert journal_mode_on_disk(db_path) == "wal"


def test_locking_protocol_on_a_fresh_file_falls_back_and_warns_once(db_path, caplog, connect):
    caplog.set_level(logging.WARNING, logger="walint.runtime")
    first = FaultyConnection(connect(db_path), locking_protocol_error, FOREVER)
    second = FaultyConnection(connect(db_path), locking_protocol_error, FOREVER)

    assert apply_wal_with_fallback(first) == "delete"
    assert apply_wal_with_fallback(second) == "delete"
    records = warnings_from(caplog)
    assert len(records) == 1
    assert str(db_path) in records[0].getMessage()
    assert "locking protocol" in records[0].getMessage()


def test_locking_protocol_on_a_rollback_database_falls_back(db_path, connect):
    make_rollback_db(db_path)
    conn = FaultyConnection(connect(db_path), locking_protocol_error, FOREVER)

    assert apply_wal_with_fallback(conn) == "delete"
    assert header_versions(db_path) == (1, 1)
    assert conn.execute("SELECT x FROM t").fetchall() == [(1,)]


def test_warning_is_once_per_label(tmp_path, caplog, connect):
    caplog.set_level(logging.WARNING, logger="walint.runtime")
    custom = logging.getLogger("walint.runtime.test")
    for label, name in [("jobs", "a.db"), ("jobs", "b.db"), ("cache", "c.db")]:
        conn = FaultyConnection(connect(tmp_path / name), locking_protocol_error, FOREVER)
        assert apply_wal_with_fallback(conn, label=label, logger=custom) == "delete"
    messages = [r.getMessage() for r in caplog.records if r.name == "walint.runtime.test"]
    assert len(messages) == 2
    assert messages[0].startswith("jobs:") and messages[1].startswith("cache:")


def test_not_authorized_is_permanent(db_path, connect):
    error = functools.partial(operational_error, "not authorized", 23, "SQLITE_AUTH")
    conn = FaultyConnection(connect(db_path), error, FOREVER)
    assert apply_wal_with_fallback(conn) == "delete"


def refuse_to_read(path):
    raise PermissionError(13, "Permission denied", str(path))


@pytest.mark.parametrize(
    "reader",
    [
        pytest.param(refuse_to_read, id="permission-error"),
        pytest.param(lambda path: b"SQLite format 3\x00\x10\x00\x01\x01", id="short-header"),
        pytest.param(lambda path: b"not a database".ljust(100, b"\x00"), id="bad-magic"),
        pytest.param(lambda path: b"SQLite format 3\x00".ljust(100, b"\x07"), id="odd-versions"),
    ],
)
def test_permanent_error_with_unreadable_header_reraises(db_path, monkeypatch, reader, connect):
    make_rollback_db(db_path)
    monkeypatch.setattr(runtime, "_read_header", reader)
    real = connect(db_path)
    seen = record_statements(real)
    conn = FaultyConnection(real, locking_protocol_error, FOREVER)

    with pytest.raises(sqlite3.OperationalError, match="locking protocol"):
        apply_wal_with_fallback(conn)
    assert not [s for s in seen if SETS_DELETE.search(s)]


def test_permanent_error_when_the_probe_fails_reraises(db_path, connect):
    class ProbeFails(FaultyConnection):
        def execute(self, sql, *args):
            if "database_list" in sql:
                raise sqlite3.OperationalError("database_list broke")
            return super().execute(sql, *args)

    conn = ProbeFails(connect(db_path), locking_protocol_error, FOREVER)
    with pytest.raises(sqlite3.OperationalError, match="locking protocol"):
        apply_wal_with_fallback(conn)


# --- everything else re-raises at once ------------------------------------------


def test_other_errors_reraise_without_retry(db_path, connect):
    error = functools.partial(operational_error, "no such table: t", 1, "SQLITE_ERROR")
    real = connect(db_path)
    seen = record_statements(real)
    conn = FaultyConnection(real, error, FOREVER)
    delays = []

    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        apply_wal_with_fallback(conn, sleep=delays.append)
    assert conn.injected == 1
    assert delays == []
    assert not [s for s in seen if SETS_DELETE.search(s)]


def test_refusal_inside_a_transaction_is_reported_as_is(db_path, connect):
    # SQLite will not enter WAL inside a transaction and says so only by its answer.
    conn = connect(db_path, isolation_level=None)
    conn.execute("CREATE TABLE t (x)")
    conn.execute("BEGIN")
    conn.execute("INSERT INTO t VALUES (1)")
    assert apply_wal_with_fallback(conn, sleep=pytest.fail) == "delete"
    conn.execute("COMMIT")
    assert header_versions(db_path) == (1, 1)


# --- classify_error -------------------------------------------------------------


class ApswLikeError(Exception):
    def __init__(self, message, result, extendedresult):
        super().__init__(message)
        self.result = result
        self.extendedresult = extendedresult


@pytest.mark.parametrize(
    "exc, expected",
    [
        (operational_error("disk I/O error"), "transient"),
        (operational_error("DATABASE IS LOCKED"), "transient"),
        (operational_error("database is busy"), "transient"),
        (operational_error("x", 10), "transient"),
        (operational_error("x", 3850), "transient"),  # SQLITE_IOERR_LOCK
        (operational_error("x", 6), "transient"),
        (operational_error("x", None, "SQLITE_LOCKED_SHAREDCACHE"), "transient"),
        (ApswLikeError("BusyError: database is locked", 5, 5), "transient"),
        (operational_error("locking protocol"), "permanent"),
        (operational_error("x", 15), "permanent"),
        (operational_error("x", None, "SQLITE_AUTH_USER"), "permanent"),
        (operational_error("Not Authorized"), "permanent"),
        (ApswLikeError("ProtocolError: x", 15, 15), "permanent"),
        # Looks like both: retrying is safe, downgrading is not.
        (operational_error("locking protocol", 10, "SQLITE_IOERR"), "transient"),
        (operational_error("no such table: t", 1, "SQLITE_ERROR"), "other"),
        (operational_error("x", None, "SQLITE_BUSYNESS"), "other"),
        (ValueError("bad value"), "other"),
    ],
)
def test_classify_error(exc, expected):
    assert classify_error(exc) == expected


def test_classify_error_custom_markers():
    exc = operational_error("readonly mount")
    assert classify_error(exc) == "other"
    assert classify_error(exc, permanent_markers=["READONLY MOUNT"]) == "permanent"
    assert classify_error(operational_error("locking protocol"), permanent_markers=()) == "other"
    # A lone string is one marker, not a set of characters.
    other = operational_error("no such table")
    assert classify_error(other, permanent_markers="locking protocol") == "other"
    assert classify_error(exc, permanent_markers="readonly mount") == "permanent"


# --- journal_mode_on_disk ------------------------------------------------------------


def test_on_disk_for_paths(tmp_path):
    wal = tmp_path / "wal.db"
    prime_wal_in_other_process(wal)
    rollback = tmp_path / "rollback.db"
    make_rollback_db(rollback)
    empty = tmp_path / "empty.db"
    empty.touch()
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not an SQLite database at all" * 10)
    short = tmp_path / "short.db"
    short.write_bytes(b"SQLite format 3\x00\x10\x00\x02\x02")

    assert journal_mode_on_disk(wal) == "wal"
    assert journal_mode_on_disk(str(wal)) == "wal"
    assert journal_mode_on_disk(os.fsencode(wal)) == "wal"
    assert journal_mode_on_disk(rollback) == "delete"
    assert journal_mode_on_disk(tmp_path / "absent.db") == "delete"
    assert journal_mode_on_disk(empty) == "delete"
    assert journal_mode_on_disk(garbage) is None
    assert journal_mode_on_disk(short) is None
    assert journal_mode_on_disk(tmp_path) is None  # a directory cannot be read
    assert journal_mode_on_disk(":memory:") == "memory"


def test_on_disk_empty_file_with_wal_frames_is_wal(tmp_path):
    path = tmp_path / "new.db"
    path.touch()
    Path(str(path) + "-wal").write_bytes(b"\x37\x7f\x06\x82" + bytes(28))
    assert journal_mode_on_disk(path) == "wal"


def test_on_disk_for_file_uris(tmp_path):
    path = tmp_path / "with space.db"
    prime_wal_in_other_process(path)
    uri = "file:" + str(path).replace(" ", "%20") + "?mode=ro"
    assert journal_mode_on_disk(uri) == "wal"
    assert journal_mode_on_disk("file://localhost" + str(path).replace(" ", "%20")) == "wal"
    assert journal_mode_on_disk("file:memdb1?mode=memory&cache=shared") == "memory"
    assert journal_mode_on_disk("file::memory:") == "memory"


def test_on_disk_for_connections(tmp_path, connect):
    wal = tmp_path / "wal.db"
    prime_wal_in_other_process(wal)
    rollback = tmp_path / "rollback.db"
    make_rollback_db(rollback)

    assert journal_mode_on_disk(connect(wal)) == "wal"
    assert journal_mode_on_disk(connect(rollback)) == "delete"
    assert journal_mode_on_disk(connect(tmp_path / "new.db")) == "delete"
    assert journal_mode_on_disk(connect(":memory:")) == "memory"
    assert journal_mode_on_disk(connect("")) == "delete"  # private temp database


def test_on_disk_reads_the_header_not_the_connection(tmp_path, connect):
    path = tmp_path / "shared.db"
    make_rollback_db(path)
    mine = connect(path)
    mine.execute("SELECT * FROM t").fetchall()
    other = connect(path)
    assert other.execute("PRAGMA journal_mode=WAL").fetchone() == ("wal",)
    other.close()
    # `mine` has not read the file since: its own PRAGMA journal_mode still says
    # "delete" (SQLite 3.40), while the header says what every other process sees.
    assert journal_mode_on_disk(mine) == "wal"


def test_on_disk_probe_failure_is_unknown():
    class Broken:
        def execute(self, sql):
            raise sqlite3.OperationalError("locking protocol")

    assert journal_mode_on_disk(Broken()) is None
    assert journal_mode_on_disk(object()) is None


# --- the async twin ----------------------------------------------------------------


class AsyncCursor:
    def __init__(self, cursor):
        self._cursor = cursor

    async def fetchone(self):
        return self._cursor.fetchone()

    async def fetchall(self):
        return self._cursor.fetchall()


class AsyncCursorFetchoneOnly:
    def __init__(self, cursor):
        self._cursor = cursor

    async def fetchone(self):
        return self._cursor.fetchone()


class AsyncCursorIterable:
    def __init__(self, cursor):
        self._rows = iter(cursor.fetchall())

    def __aiter__(self):
        return self

    async def __anext__(self):
        try:
            return next(self._rows)
        except StopIteration:
            raise StopAsyncIteration from None


class Pending:
    """What aiosqlite's execute() returns: awaitable, and an async context manager."""

    def __init__(self, coro):
        self._coro = coro

    def __await__(self):
        return self._coro.__await__()

    async def __aenter__(self):
        return await self._coro

    async def __aexit__(self, *exc_info):
        return False


class AsyncConnection:
    """A tiny aiosqlite stand-in over a (possibly faulty) sqlite3 connection."""

    def __init__(self, conn, style):
        self._conn = conn
        self._style = style
        self._cursor = {
            "fetchone-only": AsyncCursorFetchoneOnly,
            "async-iterable": AsyncCursorIterable,
        }.get(style, AsyncCursor)

    async def _execute(self, sql):
        await asyncio.sleep(0)
        return self._cursor(self._conn.execute(sql))

    def execute(self, sql):
        coro = self._execute(sql)
        return Pending(coro) if self._style == "aiosqlite-result" else coro


@pytest.fixture(params=["coroutine", "aiosqlite-result", "fetchone-only", "async-iterable"])
def async_style(request):
    return request.param


def test_async_already_wal(db_path, async_style, connect):
    prime_wal_in_other_process(db_path)
    real = connect(db_path)
    seen = record_statements(real)

    mode = asyncio.run(apply_wal_with_fallback_async(AsyncConnection(real, async_style)))
    assert mode == "wal"
    assert seen and not [s for s in seen if SETS_MODE.search(s)]


def test_async_fresh_file(db_path, async_style, connect):
    conn = AsyncConnection(connect(db_path), async_style)
    mode = asyncio.run(apply_wal_with_fallback_async(conn))
    assert mode == "wal"
    assert header_versions(db_path) == (2, 2)


def test_async_transient_retried_with_real_asyncio_sleep(db_path, async_style, connect):
    faulty = FaultyConnection(connect(db_path), disk_io_error, 2)
    conn = AsyncConnection(faulty, async_style)
    assert asyncio.run(apply_wal_with_fallback_async(conn, backoff=0.001)) == "wal"
    assert faulty.injected == 2


def test_async_transient_beyond_retries_reraises(db_path, async_style, connect):
    real = connect(db_path)
    seen = record_statements(real)
    faulty = FaultyConnection(real, disk_io_error, FOREVER)
    delays = []

    async def sleep(seconds):
        delays.append(seconds)

    with pytest.raises(sqlite3.OperationalError, match="disk I/O error"):
        conn = AsyncConnection(faulty, async_style)
        asyncio.run(apply_wal_with_fallback_async(conn, retries=2, sleep=sleep))
    assert delays == [0.05, 0.1]
    assert faulty.injected == 3
    assert not [s for s in seen if SETS_DELETE.search(s)]


def test_async_permanent_fallback_and_refusal(tmp_path, async_style, caplog, connect):
    caplog.set_level(logging.WARNING, logger="walint.runtime")
    fresh = tmp_path / "fresh.db"
    faulty = FaultyConnection(connect(fresh), locking_protocol_error, FOREVER)
    conn = AsyncConnection(faulty, async_style)
    assert asyncio.run(apply_wal_with_fallback_async(conn)) == "delete"
    assert asyncio.run(apply_wal_with_fallback_async(conn)) == "delete"
    assert len(warnings_from(caplog)) == 1

    shared = tmp_path / "shared.db"
    prime_wal_in_other_process(shared)
    faulty = FaultyConnection(connect(shared), locking_protocol_error, FOREVER, pattern=MODE_PRAGMA)
    with pytest.raises(sqlite3.OperationalError, match="locking protocol"):
        asyncio.run(apply_wal_with_fallback_async(AsyncConnection(faulty, async_style)))
    assert header_versions(shared) == (2, 2)


# --- settings: checked when the helper is called, before SQLite -----------------


class Untouchable:
    def execute(self, sql, *args):
        pytest.fail("the connection was used: %s" % sql)


NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize(
    "settings, error, name",
    [
        ({"retries": -1}, ValueError, "retries"),
        ({"retries": 1001}, ValueError, "retries"),
        ({"retries": 2000, "max_backoff": 1.0}, ValueError, "retries"),
        ({"retries": True}, TypeError, "retries"),
        ({"retries": 2.0}, TypeError, "retries"),
        ({"retries": "3"}, TypeError, "retries"),
        ({"backoff": NAN}, ValueError, "backoff"),
        ({"backoff": INF}, ValueError, "backoff"),
        ({"backoff": -0.5}, ValueError, "backoff"),
        ({"backoff": True}, TypeError, "backoff"),
        ({"backoff": "0.1"}, TypeError, "backoff"),
        ({"max_backoff": NAN}, ValueError, "max_backoff"),
        ({"max_backoff": INF}, ValueError, "max_backoff"),
        ({"max_backoff": -INF}, ValueError, "max_backoff"),
        ({"max_backoff": 1e300}, ValueError, "max_backoff"),  # time.sleep would overflow
        ({"max_backoff": 10**400}, ValueError, "max_backoff"),  # too big for a float
        ({"max_backoff": None}, TypeError, "max_backoff"),
        ({"sleep": 0.1}, TypeError, "sleep"),
        ({"label": ["jobs"]}, TypeError, "label"),
        ({"logger": "walint"}, TypeError, "logger"),
        ({"permanent_markers": [15]}, TypeError, "permanent_markers"),
        ({"transient_markers": 5}, TypeError, "transient_markers"),
    ],
    ids=lambda value: repr(value)[:40] if isinstance(value, dict) else None,
)
def test_settings_are_checked_before_the_connection_is_used(settings, error, name):
    with pytest.raises(error, match="^%s must" % name):
        apply_wal_with_fallback(Untouchable(), **settings)
    with pytest.raises(error, match="^%s must" % name):
        asyncio.run(apply_wal_with_fallback_async(Untouchable(), **settings))


def test_nan_max_backoff_fails_before_sqlite_not_in_place_of_its_error(db_path, connect):
    # Checked at the first retry, NaN used to surface as time.sleep's ValueError and
    # hide the disk I/O error; now nothing is tried.
    conn = FaultyConnection(connect(db_path), disk_io_error, FOREVER)
    with pytest.raises(ValueError, match="^max_backoff must .* not nan"):
        apply_wal_with_fallback(conn, max_backoff=NAN)
    assert conn.injected == 0
    assert journal_mode_on_disk(db_path) == "delete"


def test_backoff_never_overflows_however_many_retries(db_path, connect):
    conn = FaultyConnection(connect(db_path), disk_io_error, FOREVER)
    delays = []

    # The user sees SQLite's error after the last retry, never an OverflowError.
    with pytest.raises(sqlite3.OperationalError, match="disk I/O error"):
        apply_wal_with_fallback(
            conn, retries=1000, backoff=1e300, max_backoff=3600, sleep=delays.append
        )
    assert conn.injected == 1001
    assert delays == [3600.0] * 1000

    delays.clear()
    with pytest.raises(sqlite3.OperationalError, match="disk I/O error"):
        apply_wal_with_fallback(conn, retries=1000, backoff=0.05, sleep=delays.append)
    assert delays[:3] == [0.05, 0.1, 0.2]
    assert delays[-1] == 1.0 and len(delays) == 1000
    # The exponent is capped: 0.05 * 2**5000 would not fit a float (OverflowError).
    assert runtime._delay(0.05, 1.0, 5000) == 1.0
    assert runtime._delay(0.0, 1.0, 10**9) == 0.0


def test_async_nan_max_backoff_fails_before_sqlite(db_path, async_style, connect):
    faulty = FaultyConnection(connect(db_path), disk_io_error, FOREVER)
    conn = AsyncConnection(faulty, async_style)
    with pytest.raises(ValueError, match="^max_backoff must"):
        asyncio.run(apply_wal_with_fallback_async(conn, max_backoff=NAN))
    assert faulty.injected == 0


# --- attached databases: only the schema that was checked changes ----------------

PRAGMA_SQL = re.compile(r"^\s*pragma\b", re.I)


def attach(conn, path, name):
    conn.execute("ATTACH DATABASE ? AS %s" % name, (str(path),))


def pragmas(seen):
    return [s for s in seen if PRAGMA_SQL.match(s)]


@pytest.fixture
def main_with_wal_attachment(tmp_path, connect):
    """A rollback main database with `shared.db`, put in WAL by another process, attached."""
    main = tmp_path / "main.db"
    make_rollback_db(main)
    shared = tmp_path / "shared.db"
    prime_wal_in_other_process(shared)
    real = connect(main)
    attach(real, shared, "shared")
    return main, shared, real


def test_fallback_on_main_leaves_an_attached_wal_database_in_wal(main_with_wal_attachment):
    main, shared, real = main_with_wal_attachment
    seen = record_statements(real)
    conn = FaultyConnection(real, locking_protocol_error, FOREVER)

    assert apply_wal_with_fallback(conn) == "delete"
    ran = pragmas(seen)
    assert header_versions(shared) == (2, 2)
    assert header_versions(main) == (1, 1)
    assert real.execute("PRAGMA shared.journal_mode").fetchone() == ("wal",)
    assert real.execute("SELECT x FROM shared.t").fetchall() == [(1,)]
    # Every pragma the helper ran names the database it checked.
    assert ran and all(s.startswith('PRAGMA "main".') for s in ran)


def test_async_fallback_on_main_leaves_an_attached_wal_database_in_wal(
    main_with_wal_attachment, async_style
):
    main, shared, real = main_with_wal_attachment
    seen = record_statements(real)
    conn = AsyncConnection(FaultyConnection(real, locking_protocol_error, FOREVER), async_style)

    assert asyncio.run(apply_wal_with_fallback_async(conn)) == "delete"
    ran = pragmas(seen)
    assert header_versions(shared) == (2, 2)
    assert header_versions(main) == (1, 1)
    assert real.execute("PRAGMA shared.journal_mode").fetchone() == ("wal",)
    assert ran and all(s.startswith('PRAGMA "main".') for s in ran)


def test_switching_main_leaves_an_attached_rollback_database_alone(tmp_path, connect):
    other = tmp_path / "other.db"
    make_rollback_db(other)
    conn = connect(tmp_path / "main.db")
    attach(conn, other, "other")

    assert apply_wal_with_fallback(conn) == "wal"
    assert header_versions(tmp_path / "main.db") == (2, 2)
    assert header_versions(other) == (1, 1)


def test_schema_targets_an_attached_database(tmp_path, connect):
    main = tmp_path / "main.db"
    make_rollback_db(main)
    conn = connect(main)
    attach(conn, tmp_path / "aux.db", "aux")
    seen = record_statements(conn)

    assert apply_wal_with_fallback(conn, schema="aux") == "wal"
    assert header_versions(tmp_path / "aux.db") == (2, 2)
    assert header_versions(main) == (1, 1)
    assert all(s.startswith('PRAGMA "aux".') for s in pragmas(seen))
    assert journal_mode_on_disk(conn, schema="aux") == "wal"
    assert journal_mode_on_disk(conn, schema="AUX") == "wal"  # SQLite ignores case
    assert journal_mode_on_disk(conn) == "delete"
    aconn = AsyncConnection(conn, "coroutine")
    assert asyncio.run(apply_wal_with_fallback_async(aconn, schema="aux")) == "wal"


def test_fallback_on_an_attached_schema_reads_that_schemas_file(tmp_path, caplog, connect):
    caplog.set_level(logging.WARNING, logger="walint.runtime")
    # aux is in WAL on disk, main is not: a check of main's file would allow the downgrade.
    main = tmp_path / "main.db"
    make_rollback_db(main)
    aux = tmp_path / "aux.db"
    prime_wal_in_other_process(aux)
    real = connect(main)
    attach(real, aux, "aux")
    seen = record_statements(real)
    conn = FaultyConnection(real, locking_protocol_error, FOREVER, pattern=mode_pragma("aux"))

    with pytest.raises(sqlite3.OperationalError, match="locking protocol"):
        apply_wal_with_fallback(conn, schema="aux", sleep=pytest.fail)
    assert not [s for s in seen if SETS_DELETE.search(s)]
    assert header_versions(aux) == (2, 2)

    # The other way round: aux is a rollback file, main is in WAL; aux falls back alone.
    main2 = tmp_path / "main2.db"
    prime_wal_in_other_process(main2)
    aux2 = tmp_path / "aux2.db"
    make_rollback_db(aux2)
    real2 = connect(main2)
    attach(real2, aux2, "aux")
    conn2 = FaultyConnection(real2, locking_protocol_error, FOREVER, pattern=mode_pragma("aux"))

    assert apply_wal_with_fallback(conn2, schema="aux") == "delete"
    assert header_versions(main2) == (2, 2)
    assert header_versions(aux2) == (1, 1)
    [record] = warnings_from(caplog)
    assert str(aux2) in record.getMessage()


def test_unknown_schema_is_an_error_not_a_retry(db_path, connect):
    with pytest.raises(sqlite3.OperationalError, match='unknown database "nosuch"'):
        apply_wal_with_fallback(connect(db_path), schema="nosuch", sleep=pytest.fail)


@pytest.mark.parametrize(
    "schema, error",
    [
        ('main"; DROP TABLE t; --', ValueError),
        ("main.journal_mode=DELETE; --", ValueError),
        ("", ValueError),
        ("1st", ValueError),
        ("two words", ValueError),
        ("d\u00e9j\u00e0", ValueError),
        (b"main", TypeError),
        (None, TypeError),
        (0, TypeError),
    ],
)
def test_schema_must_be_a_plain_identifier(schema, error, db_path):
    with pytest.raises(error, match="schema"):
        apply_wal_with_fallback(Untouchable(), schema=schema)
    with pytest.raises(error, match="schema"):
        asyncio.run(apply_wal_with_fallback_async(Untouchable(), schema=schema))
    with pytest.raises(error, match="schema"):
        journal_mode_on_disk(Untouchable(), schema=schema)
    with pytest.raises(error, match="schema"):
        journal_mode_on_disk(db_path, schema=schema)


# --- several processes on one file ----------------------------------------------------


def test_four_processes_switch_one_file_to_wal(tmp_path, connect):
    path = tmp_path / "shared.db"
    failures = [2, 0, 2, 0]
    rows = 50
    procs = [
        subprocess.Popen(
            [sys.executable, str(FAULTS), str(path), str(n), str(rows)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, env=ENV, cwd=str(REPO),
        )
        for n in failures
    ]
    try:
        for proc in procs:
            assert proc.stdout.readline().strip() == "ready", proc.communicate(timeout=60)
        for proc in procs:  # release them together
            proc.stdin.write("go\n")
            proc.stdin.flush()
        outputs = [proc.communicate(timeout=60) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    for proc, n, (out, err) in zip(procs, failures, outputs):
        assert proc.returncode == 0, err
        result = json.loads(out)
        assert result["returned"] == result["pragma"] == result["on_disk"] == "wal"
        assert result["injected"] == n
        # The injected failures come first; real lock contention may add more retries.
        assert result["delays"][:n] == [0.01, 0.02][:n]
        assert len(result["delays"]) >= n

    assert header_versions(path) == (2, 2)
    conn = connect(path, timeout=30)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    counts = conn.execute("SELECT COUNT(*), COUNT(DISTINCT worker) FROM t").fetchone()
    assert counts == (4 * rows, 4)


# --- packaging promises ---------------------------------------------------------------


def test_import_pulls_in_neither_libcst_nor_click_nor_asyncio():
    code = (
        "import walint.runtime, sys; "
        "assert 'libcst' not in sys.modules and 'click' not in sys.modules, sorted(sys.modules); "
        "assert 'asyncio' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env=ENV, cwd=str(REPO), timeout=60)


def test_source_is_python_39_syntax():
    source = Path(runtime.__file__).read_text(encoding="utf-8")
    ast.parse(source, feature_version=(3, 9))
    assert "from __future__ import annotations" in source


def test_public_api():
    assert set(runtime.__all__) >= {
        "apply_wal_with_fallback",
        "apply_wal_with_fallback_async",
        "classify_error",
        "journal_mode_on_disk",
    }
    for name in runtime.__all__:
        obj = getattr(runtime, name)
        if callable(obj):
            assert obj.__doc__, name

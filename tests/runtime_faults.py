"""Fault injection for the walint.runtime tests.

``FaultyConnection`` wraps a real ``sqlite3.Connection`` and makes chosen journal-mode
pragmas fail the way a busy disk or an NFS mount would. Run as a script, this file is
the worker of the multi-process test (it imports nothing from the tests directory, so a
fresh interpreter only needs ``walint`` on its path).
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import sys
import time
from typing import Any, List, Optional


def _qualifier(schema: str) -> str:
    """``schema.`` or ``"schema".``; optional for main, which an unqualified pragma hits too."""
    name = re.escape(schema)
    return r'(?:%s\.|"%s"\.)%s' % (name, name, "?" if schema == "main" else "")


def wal_pragma(schema: str = "main") -> "re.Pattern[str]":
    """`PRAGMA journal_mode=WAL` for ``schema``, in any case and spacing."""
    return re.compile(
        r"^\s*pragma\s+%sjournal_mode\s*=\s*['\"]?wal['\"]?\s*;?\s*$" % _qualifier(schema), re.I
    )


def mode_pragma(schema: str = "main") -> "re.Pattern[str]":
    """Reading the mode of ``schema`` or setting it to WAL, never the DELETE fallback: on
    a real NFS mount the read of a WAL database fails too, because it needs the -shm file."""
    return re.compile(
        r"^\s*pragma\s+%sjournal_mode\s*(=\s*['\"]?wal['\"]?\s*)?;?\s*$" % _qualifier(schema),
        re.I,
    )


WAL_PRAGMA = wal_pragma()
MODE_PRAGMA = mode_pragma()

FOREVER = 10**6  # failures=FOREVER: the fault never clears

SQLITE_IOERR_SHORT_READ = 522
SQLITE_PROTOCOL = 15


def operational_error(
    message: str, code: Optional[int] = None, name: Optional[str] = None
) -> sqlite3.OperationalError:
    """An OperationalError shaped like the one sqlite3 raises (3.11+ attributes included)."""
    exc = sqlite3.OperationalError(message)
    if code is not None:
        exc.sqlite_errorcode = code
    if name is not None:
        exc.sqlite_errorname = name
    return exc


def disk_io_error() -> sqlite3.OperationalError:
    return operational_error("disk I/O error", SQLITE_IOERR_SHORT_READ, "SQLITE_IOERR_SHORT_READ")


def locking_protocol_error() -> sqlite3.OperationalError:
    return operational_error("locking protocol", SQLITE_PROTOCOL, "SQLITE_PROTOCOL")


class FaultyConnection:
    """Delegates to ``real`` but raises ``error()`` for the first ``failures`` statements
    matching ``pattern``; everything else, including attributes, goes to ``real``."""

    def __init__(
        self, real: Any, error: Any, failures: int, pattern: "re.Pattern[str]" = WAL_PRAGMA
    ):
        self.real = real
        self.error = error
        self.remaining = failures
        self.pattern = pattern
        self.injected = 0

    def execute(self, sql: str, *args: Any) -> Any:
        if self.remaining > 0 and self.pattern.match(sql):
            self.remaining -= 1
            self.injected += 1
            raise self.error()
        return self.real.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def record_statements(conn: sqlite3.Connection) -> List[str]:
    """Collect every statement ``conn`` runs, as SQLite sees it."""
    seen: List[str] = []
    conn.set_trace_callback(seen.append)
    return seen


def _worker(path: str, failures: int, rows: int) -> None:
    from walint.runtime import apply_wal_with_fallback, journal_mode_on_disk

    conn = sqlite3.connect(path, timeout=30)
    target = FaultyConnection(conn, disk_io_error, failures, MODE_PRAGMA)
    delays: List[float] = []

    def sleep(seconds: float) -> None:
        delays.append(seconds)
        time.sleep(seconds)

    # Start together: the parent releases every worker at once after all are ready.
    print("ready", flush=True)
    sys.stdin.readline()
    # Real contention adds retries of its own: SQLite answers a WAL switch that would
    # deadlock with an immediate SQLITE_BUSY instead of waiting in the busy handler.
    try:
        mode = apply_wal_with_fallback(
            target, sleep=sleep, retries=10, backoff=0.01, max_backoff=0.2
        )
    except Exception:
        print("delays before the failure:", delays, file=sys.stderr)
        raise
    with conn:
        conn.execute("CREATE TABLE IF NOT EXISTS t (worker INTEGER, i INTEGER)")
    with conn:
        conn.executemany("INSERT INTO t VALUES (?, ?)", [(os.getpid(), i) for i in range(rows)])
    result = {
        "returned": mode,
        "pragma": conn.execute("PRAGMA journal_mode").fetchone()[0],
        "on_disk": journal_mode_on_disk(path),
        "injected": target.injected,
        "delays": delays,
    }
    conn.close()
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    _worker(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))

"""Journal-mode code that is safe; a linter must stay quiet on every line of this file.

Retry loops on transient errors, user-facing hints, guarded fallbacks, deliberate
rollback modes outside error paths, mode reads and WAL checkpoints.
"""

import logging
import sqlite3
import time

log = logging.getLogger(__name__)

_RETRYABLE = ("database is locked", "disk i/o error", "database is busy")

ERROR_HINTS = {
    "disk i/o error": "Check free space and the storage device.",
    "database is locked": "Another program holds the database; close it and retry.",
    "locking protocol": "The database is on a network share without WAL support.",
}

_WAL_INCOMPAT_MARKERS = ("locking protocol", "not authorized")


def execute_with_retry(conn, sql, params=()):
    for attempt in range(6):
        try:
            return conn.execute(sql, params).fetchall()
        except sqlite3.OperationalError as exc:
            if not any(marker in str(exc).lower() for marker in _RETRYABLE):
                raise
            time.sleep(0.05 * 2**attempt)
    raise TimeoutError(sql)


def enable_wal_guarded(conn):
    try:
        conn.execute("PRAGMA journal_mode=WAL")
    except sqlite3.OperationalError as exc:
        if not any(marker in str(exc).lower() for marker in _WAL_INCOMPAT_MARKERS):
            raise
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
        if mode in ("wal", None):
            raise
        conn.execute("PRAGMA journal_mode=DELETE")


def enable_wal_checked(conn):
    (mode,) = conn.execute("PRAGMA journal_mode=WAL").fetchone()
    if mode.lower() != "wal":
        log.warning("SQLite kept journal mode %s", mode)
    return mode


def snapshot(conn, target):
    conn.execute("PRAGMA journal_mode=DELETE")
    conn.execute("VACUUM INTO ?", (target,))
    conn.execute("PRAGMA journal_mode=WAL")


def compact_wal(conn):
    try:
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
    except sqlite3.OperationalError:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def describe(conn):
    return conn.execute("SELECT journal_mode FROM pragma_journal_mode").fetchone()[0]


def explain(exc):
    return ERROR_HINTS.get(str(exc).lower(), str(exc))

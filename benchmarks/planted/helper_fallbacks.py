"""Connection helpers of a desktop notes app whose sync daemon shares the database.

The fallback lives in small helpers: one always switches to the rollback journal, one
takes the mode as a parameter, and the callers reach them from their ``except``
handlers.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from pathlib import Path

log = logging.getLogger("notes.db")

ROLLBACK = "delete"


def _use_rollback_journal(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA journal_mode=DELETE")
    conn.execute("PRAGMA synchronous=FULL")


def _set_journal_mode(conn: sqlite3.Connection, mode: str) -> str:
    (result,) = conn.execute(f"PRAGMA journal_mode={mode}").fetchone()
    return result


def open_notes(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
    except sqlite3.OperationalError:
        log.info("notes database on a filesystem without WAL; switching journal")
        _use_rollback_journal(conn)  # expect: WAL001
    return conn


def open_attachments(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path)
    try:
        _set_journal_mode(conn, "wal")
    except sqlite3.OperationalError:
        _set_journal_mode(conn, ROLLBACK)  # expect: WAL001
    return conn


@contextlib.contextmanager
def notes_session(path: Path):
    conn = open_notes(path)
    try:
        yield conn
        conn.commit()
    except Exception:
        conn.rollback()
        raise
    finally:
        conn.close()

"""Decide, from SQLite's extended error codes, whether WAL can ever work here.

Python 3.11 exposes ``sqlite_errorcode`` and ``sqlite_errorname`` on sqlite3 errors;
this module maps them to a decision. Two of the "permanent" codes below are in fact
transient.
"""

import logging
import sqlite3

log = logging.getLogger(__name__)

NO_WAL_ERRORNAMES = frozenset(
    {
        "SQLITE_PROTOCOL",
        "SQLITE_AUTH",
        "SQLITE_BUSY_SNAPSHOT",  # expect: WAL002
    }
)

WAL_BLOCKING_CODES = [
    sqlite3.SQLITE_PROTOCOL,
    sqlite3.SQLITE_IOERR,  # expect: WAL002
]


def _wal_impossible(exc):
    name = getattr(exc, "sqlite_errorname", "")
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    return name in NO_WAL_ERRORNAMES or code in WAL_BLOCKING_CODES


def configure(conn):
    try:
        conn.execute("PRAGMA journal_mode=WAL")
    except sqlite3.OperationalError as exc:
        if not _wal_impossible(exc):
            raise
        log.error("falling back to the rollback journal: %s", exc.sqlite_errorname)
        conn.execute("PRAGMA journal_mode=DELETE")  # expect: WAL001


def configure_by_name(conn):
    try:
        conn.execute("PRAGMA journal_mode=WAL")
    except sqlite3.OperationalError as exc:
        if exc.sqlite_errorname in ("SQLITE_PROTOCOL", "SQLITE_LOCKED"):  # expect: WAL002
            conn.execute("PRAGMA journal_mode=MEMORY")  # expect: WAL001
        else:
            raise

"""Build-cache index: the journal-mode pragma is assembled from constants.

The modes live in module constants so that the index and the artefact store agree; the
fallback pragma is built with an f-string, ``%``, ``str.format`` and concatenation in the
different entry points that grew over time.
"""

import logging
import os
import sqlite3

logger = logging.getLogger("buildcache.index")

PREFERRED_MODE = "WAL"
FALLBACK_MODE = "TRUNCATE"
PRAGMA_TEMPLATE = "PRAGMA journal_mode=%s"
SCHEMA = "main"


def open_index(path):
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute(f"PRAGMA journal_mode={PREFERRED_MODE}")
    except sqlite3.OperationalError:
        logger.info("index %s: falling back to %s", path, FALLBACK_MODE)
        conn.execute(f"PRAGMA {SCHEMA}.journal_mode = {FALLBACK_MODE}")  # expect: WAL001
    return conn


def open_artefacts(path):
    conn = sqlite3.connect(path)
    try:
        conn.execute(PRAGMA_TEMPLATE % PREFERRED_MODE)
    except sqlite3.DatabaseError as exc:
        logger.warning("artefact store in rollback mode: %s", exc)
        conn.execute(PRAGMA_TEMPLATE % "persist")  # expect: WAL001
    return conn


def open_stats(directory):
    path = os.path.join(directory, "stats.db")
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA journal_mode={}".format(PREFERRED_MODE.lower()))
    except sqlite3.OperationalError:
        mode = "delete"
        conn.execute("PRAGMA journal_mode={}".format(mode))  # expect: WAL001
    return conn


def open_locks(directory):
    conn = sqlite3.connect(os.path.join(directory, "locks.db"))
    try:
        conn.execute("PRAGMA journal_mode=" + PREFERRED_MODE)
    except sqlite3.OperationalError:
        conn.execute(  # expect: WAL001
            "PRAGMA journal_mode"
            " = "
            "'memory'"
        )
    return conn


def record(conn, key, size):
    conn.execute("INSERT OR REPLACE INTO entries (key, size) VALUES (?, ?)", (key, size))

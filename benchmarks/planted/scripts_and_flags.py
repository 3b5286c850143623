"""Offline import tool: bulk-loads CSV exports into the shared analytics database.

The bulk loader runs whole pragma scripts; the older entry point records the failure
in a flag and downgrades after the ``try`` statement.
"""

import csv
import logging
import sqlite3
import sys

log = logging.getLogger("importer")

FAST_LOAD = """
PRAGMA synchronous=OFF;
PRAGMA main.journal_mode='off';
PRAGMA cache_size=-200000;
"""


def open_for_bulk_load(path):
    conn = sqlite3.connect(path)
    try:
        conn.executescript("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;")
    except sqlite3.OperationalError:
        conn.executescript(FAST_LOAD)  # expect: WAL001
    return conn


def open_legacy(path):
    conn = sqlite3.connect(path)
    wal_failed = False
    try:
        conn.execute("PRAGMA journal_mode=WAL")
    except sqlite3.OperationalError as exc:
        log.warning("WAL failed: %s", exc)
        wal_failed = True
    if wal_failed:
        conn.execute("PRAGMA journal_mode=TRUNCATE")  # expect: WAL001
    return conn


def load_csv(conn, table, filename):
    with open(filename, newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        placeholders = ", ".join("?" for _ in header)
        with conn:
            conn.executemany(f"INSERT INTO {table} VALUES ({placeholders})", reader)


if __name__ == "__main__":
    database = open_for_bulk_load(sys.argv[1])
    load_csv(database, sys.argv[2], sys.argv[3])

"""SQLAlchemy engine factory for the reporting service.

The connect listener turns WAL on for every pooled DB-API connection; the maintenance
entry point does the same through the Core API.
"""

import logging
import sqlite3

from sqlalchemy import create_engine, event, text
from sqlalchemy.exc import OperationalError

log = logging.getLogger(__name__)


def make_engine(url):
    engine = create_engine(url, pool_pre_ping=True)

    @event.listens_for(engine, "connect")
    def _set_sqlite_pragmas(dbapi_connection, connection_record):
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
        except sqlite3.OperationalError:
            log.exception("WAL refused; continuing with a truncated rollback journal")
            cursor.execute("PRAGMA journal_mode=TRUNCATE")  # expect: WAL001
        finally:
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

    return engine


def prepare(engine):
    with engine.connect() as conn:
        try:
            conn.exec_driver_sql("PRAGMA journal_mode=WAL")
        except OperationalError:
            conn.exec_driver_sql("PRAGMA journal_mode = DELETE")  # expect: WAL001
        conn.commit()


def prepare_with_text(engine):
    with engine.begin() as conn:
        try:
            conn.execute(text("PRAGMA journal_mode=WAL"))
        except OperationalError as exc:
            log.warning("reporting db: %s", exc)
            conn.execute(text("pragma journal_mode = 'persist'"))  # expect: WAL001


def monthly_totals(engine, year):
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT month, SUM(amount) FROM sales WHERE year = :y GROUP BY month"), {"y": year}
        ).all()

import sqlite3

from .config import DatabaseConfig


class EngineFactory:
    def __init__(self, config: DatabaseConfig) -> None:
        self.config = config

    def _is_permanent(self, exc: Exception) -> bool:
        return any(marker in str(exc) for marker in self.config.permanent_errors)

    def on_connect(self, conn: sqlite3.Connection) -> None:
        if self.config.legacy_rollback_journal:
            conn.execute("PRAGMA journal_mode=DELETE")
        try:
            conn.execute("PRAGMA journal_mode=WAL")
        except sqlite3.OperationalError as exc:
            if not self._is_permanent(exc):
                raise
            if conn.execute("PRAGMA journal_mode").fetchone()[0] in ("wal", None):
                raise
            conn.execute("PRAGMA journal_mode=DELETE")

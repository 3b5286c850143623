"""Session store shared by the worker processes of a multi-process agent.

Every worker opens the same ``sessions.db``; WAL lets the planner read while the
executors write. The helper below is the shape of a real incident: a transient error
listed among the "this filesystem cannot do WAL" markers downgraded one worker to the
rollback journal while its siblings kept writing WAL frames.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from pathlib import Path
from typing import Any, Optional

log = logging.getLogger(__name__)

# Errors that mean "this filesystem cannot do WAL".
_WAL_INCOMPAT_MARKERS = (
    "locking protocol",  # SQLITE_PROTOCOL on NFS / SMB
    "not authorized",  # FUSE mounts that refuse the -shm mapping
    "disk i/o error",  # expect: WAL002
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    agent TEXT NOT NULL,
    state TEXT NOT NULL,
    updated_at REAL NOT NULL
);
"""


def _wal_unsupported(exc: BaseException) -> bool:
    message = str(exc).lower()
    return any(marker in message for marker in _WAL_INCOMPAT_MARKERS)


class SessionStore:
    """One row per agent session, JSON state, shared by every worker."""

    def __init__(self, path: Path, *, timeout: float = 30.0) -> None:
        self.path = Path(path)
        self.timeout = timeout
        self._lock = threading.Lock()
        self._conn: Optional[sqlite3.Connection] = None

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=self.timeout, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        try:
            conn.execute("PRAGMA journal_mode=WAL")
        except sqlite3.OperationalError as exc:
            if not _wal_unsupported(exc):
                raise
            log.warning("WAL unavailable for %s (%s); using the rollback journal", self.path, exc)
            conn.execute("PRAGMA journal_mode=DELETE")  # expect: WAL001
        conn.execute("PRAGMA busy_timeout=5000")
        conn.executescript(_SCHEMA)
        return conn

    @property
    def conn(self) -> sqlite3.Connection:
        with self._lock:
            if self._conn is None:
                self._conn = self._connect()
            return self._conn

    def get(self, session_id: str) -> Optional[dict[str, Any]]:
        row = self.conn.execute("SELECT state FROM sessions WHERE id = ?", (session_id,)).fetchone()
        return json.loads(row["state"]) if row else None

    def put(self, session_id: str, agent: str, state: dict[str, Any]) -> None:
        with self.conn:
            self.conn.execute(
                "INSERT INTO sessions (id, agent, state, updated_at) VALUES (?, ?, ?, julianday('now')) "
                "ON CONFLICT(id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
                (session_id, agent, json.dumps(state)),
            )

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

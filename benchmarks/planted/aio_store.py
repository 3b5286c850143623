"""An aiosqlite-backed event log for an async web service with several workers."""

import asyncio
import logging

import aiosqlite

log = logging.getLogger("events")

_FALLBACK_ERRORS = [
    "locking protocol",
    "database is busy",  # expect: WAL002
    "database table is locked",  # expect: WAL002
]


class EventLog:
    def __init__(self, path):
        self.path = path
        self._db = None
        self._lock = asyncio.Lock()

    async def open(self):
        self._db = await aiosqlite.connect(self.path)
        try:
            await self._db.execute("PRAGMA journal_mode=WAL")
        except aiosqlite.OperationalError as exc:
            if not any(fragment in str(exc).lower() for fragment in _FALLBACK_ERRORS):
                raise
            log.warning("event log falls back to DELETE journal: %s", exc)
            await self._db.execute("PRAGMA journal_mode=DELETE")  # expect: WAL001
        await self._db.execute(
            "CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, kind TEXT, body TEXT)"
        )
        await self._db.commit()

    async def append(self, kind, body):
        async with self._lock:
            await self._db.execute("INSERT INTO events (kind, body) VALUES (?, ?)", (kind, body))
            await self._db.commit()

    async def close(self):
        if self._db is not None:
            await self._db.close()

"""An HTTP response cache on top of sqlite-utils, shared by the crawler's processes."""

import hashlib
import logging
import sqlite3
import time

import sqlite_utils

log = logging.getLogger("crawler.cache")


class ResponseCache:
    def __init__(self, path, ttl=3600):
        self.ttl = ttl
        self.db = sqlite_utils.Database(path)
        try:
            self.db.enable_wal()
        except sqlite3.OperationalError:
            log.warning("cache %s: WAL not available, staying on the rollback journal", path)
            self.db.disable_wal()  # expect: WAL001
        self.table = self.db["responses"]
        if not self.table.exists():
            self.table.create({"key": str, "url": str, "body": bytes, "stored": float}, pk="key")

    @staticmethod
    def _key(url):
        return hashlib.sha256(url.encode()).hexdigest()

    def get(self, url):
        try:
            row = self.table.get(self._key(url))
        except sqlite_utils.db.NotFoundError:
            return None
        if time.time() - row["stored"] > self.ttl:
            return None
        return row["body"]

    def put(self, url, body):
        self.table.upsert({"key": self._key(url), "url": url, "body": body, "stored": time.time()}, pk="key")


def reopen(path):
    database = sqlite_utils.Database(path)
    try:
        database.execute("PRAGMA journal_mode=wal")
    except sqlite3.OperationalError as error:
        if "database is locked" in str(error):  # expect: WAL002
            database.execute("PRAGMA journal_mode=delete")  # expect: WAL001
        else:
            raise
    return database

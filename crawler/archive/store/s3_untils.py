"""What the cache knows of each object's retain-until date, so a reuse costs no request.

A reused object must stay locked as long as the snapshot that reuses it
(:mod:`crawler.archive.keep`). Asking the bucket each time is a HEAD per object per
snapshot; this small table in the local cache remembers the dates this machine
wrote or read. It is only a hint that saves requests: a date is recorded only
after the bucket confirmed it, and losing the file costs HEADs, never a lock. So
dates reach the file in batches (a crawl records one per PUT): a killed run loses
at most a batch of hints.
"""

from __future__ import annotations

import sqlite3
import threading
from datetime import datetime
from pathlib import Path

__all__ = ["UntilCache"]

BATCH = 500


class UntilCache:
    def __init__(self, path: Path | None) -> None:
        self._mem: dict[str, datetime] = {}
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pending: list[tuple[str, str]] = []
        if path is not None:
            self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA synchronous = OFF")  # a hint: losing it costs HEADs
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS untils (key TEXT PRIMARY KEY, until TEXT NOT NULL)"
            )

    def get(self, key: str) -> datetime | None:
        with self._lock:
            if key in self._mem:
                return self._mem[key]
            if self._conn is None:
                return None
            row = self._conn.execute("SELECT until FROM untils WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        until = datetime.fromisoformat(row[0])
        self._mem[key] = until
        return until

    def put(self, key: str, until: datetime) -> None:
        with self._lock:
            self._mem[key] = until
            if self._conn is not None:
                self._pending.append((key, until.isoformat()))
                if len(self._pending) >= BATCH:
                    self._flush()

    def _flush(self) -> None:
        assert self._conn is not None
        with self._conn:  # one transaction for the batch
            self._conn.execute("BEGIN")
            self._conn.executemany(
                "INSERT OR REPLACE INTO untils (key, until) VALUES (?, ?)", self._pending
            )
        self._pending.clear()

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                if self._pending:
                    self._flush()
                self._conn.close()
                self._conn = None

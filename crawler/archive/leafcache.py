"""Copies of a bucket's log leaves in the local cache, so opening the log costs no GET per leaf.

docs/ARCHIVE.md, "The seal", "The leaf cache". ``log-leaves.sqlite`` beside the
other cache files of an ``s3://`` archive holds the leaves this machine read or
wrote, by index, with the log they belong to (its origin and verifier key). It
is only a hint: :meth:`crawler.archive.log.Log.open` uses cached leaves only as
far as the bucket's latest signed checkpoint vouches for them (the tree hash of
the cached prefix is that checkpoint's root), and ``crawler verify`` reads every
leaf from the bucket. A file that is not a database, a leaf that was altered, a
log that is not the bucket's: each is found and the bucket read instead; losing
the file costs GETs, never a leaf.

Each call opens the file and closes it again (a log lives as long as a run, and a
``hold add`` may write the same file meanwhile: SQLite serialises them).
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path

__all__ = ["LEAF_CACHE", "LeafCache"]

LEAF_CACHE = "log-leaves.sqlite"

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS leaves (idx INTEGER PRIMARY KEY, data BLOB NOT NULL)",
)


class LeafCache:
    """The cached leaves of one log (``log_id``: its origin and key); a broken file is none."""

    def __init__(self, path: Path, log_id: str) -> None:
        self.path = path
        self.log_id = log_id

    @contextlib.contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        """The file, ours; a file that is no database is replaced by a new one."""
        try:
            conn = self._connect()
        except sqlite3.Error:
            with contextlib.suppress(OSError):
                self.path.unlink()
            conn = self._connect()  # sqlite3.Error again: the callers' hint is lost
        try:
            yield conn
        finally:
            conn.close()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=10)
        try:
            self.path.chmod(0o600)
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = OFF")  # a hint: losing it costs GETs
            for statement in _SCHEMA:
                conn.execute(statement)
            row = conn.execute("SELECT value FROM meta WHERE key = 'log'").fetchone()
            if row is None or row[0] != self.log_id:
                # Another log at this address (a bucket made again): none of it is ours.
                with _tx(conn):
                    conn.execute("DELETE FROM leaves")
                    conn.execute("INSERT OR REPLACE INTO meta VALUES ('log', ?)", (self.log_id,))
        except BaseException:
            conn.close()
            raise
        return conn

    def leaves(self) -> list[bytes]:
        """The cached leaves 0, 1, ... up to the first index it lacks ([] if unreadable)."""
        out: list[bytes] = []
        with contextlib.suppress(sqlite3.Error, OSError), self._db() as conn:
            for idx, data in conn.execute("SELECT idx, data FROM leaves ORDER BY idx"):
                if idx != len(out) or not isinstance(data, bytes):
                    break
                out.append(data)
        return out

    def put(self, start: int, leaves: Iterable[bytes], *, replace: bool = False) -> None:
        """Remember leaves ``start``, ``start + 1``, ... as the bucket holds them.

        A copy already cached is kept unless ``replace`` (this process just wrote the
        leaf): one unlike the bucket's is either altered, which the next open finds
        and forgets, or the only trace of a leaf the bucket no longer holds, which
        ``verify`` reports.
        """
        rows = [(start + n, data) for n, data in enumerate(leaves)]
        if not rows:
            return
        verb = "REPLACE" if replace else "IGNORE"
        # A hint: one not remembered costs a GET later.
        with contextlib.suppress(sqlite3.Error, OSError), self._db() as conn, _tx(conn):
            conn.executemany(f"INSERT OR {verb} INTO leaves VALUES (?, ?)", rows)

    def forget(self, start: int = 0) -> None:
        """Drop the leaves from ``start`` on (found unlike what the bucket vouches for)."""
        with contextlib.suppress(sqlite3.Error, OSError), self._db() as conn:
            conn.execute("DELETE FROM leaves WHERE idx >= ?", (start,))


@contextlib.contextmanager
def _tx(conn: sqlite3.Connection) -> Iterator[None]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")

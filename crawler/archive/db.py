"""The connection to ``index.sqlite``: opening (writer or read-only), transactions, errors.

sqlite3 is synchronous; each call is small, so the asyncio code calls it
directly. One connection, possibly used from worker threads: one call at a time.
Every sqlite error becomes an ArchiveError here (DiskFullError when the disk is full).
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Self

from crawler.archive.schema import (
    FEED_SCHEMA,
    READABLE_SCHEMA_VERSIONS,
    SCHEMA,
    SCHEMA_VERSION,
    instant_key,
)
from crawler.archive.sqlite import connect, run_script, transaction
from crawler.canonical import utc_now
from crawler.errors import ArchiveError, DiskFullError

__all__ = ["Database", "require_row"]


class Database:
    """``index.sqlite`` opened with :meth:`open_writer` or :meth:`open_reader`."""

    def __init__(self, conn: sqlite3.Connection, path: Path, *, writable: bool) -> None:
        self._conn = conn
        self.path = path
        self.writable = writable
        # One connection, possibly used from worker threads by callers: one at a time.
        self._lock = threading.RLock()
        conn.create_function("instant", 1, instant_key, deterministic=True)

    # -- opening -----------------------------------------------------------------------------

    @classmethod
    def open_writer(cls, path: Path, *, create: bool) -> Self:
        try:
            conn = connect(path)
        except sqlite3.Error as exc:
            raise _db_error(exc, path) from exc
        index = cls(conn, path, writable=True)
        try:
            with index._lock:
                conn.execute("PRAGMA busy_timeout = 5000")
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = NORMAL")
            if create:
                with index._tx() as c:
                    run_script(c, SCHEMA)
                    c.execute(
                        "INSERT INTO meta (key, value) VALUES ('format', '1'), ('created_at', ?)",
                        (utc_now(),),
                    )
                    c.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            index._check_version()
            with index._tx() as c:
                run_script(c, FEED_SCHEMA)
        except BaseException:
            conn.close()
            raise
        return index

    @classmethod
    def open_reader(cls, path: Path) -> Self:
        """Read-only: SQLite is told ``mode=ro`` and so never writes, nor creates files.

        A writer that closed cleanly leaves the file in rollback-journal mode (see
        :meth:`close`), which a read-only opener reads without creating -wal/-shm.
        """
        if not path.is_file():
            raise ArchiveError(f"damaged archive: {path} is missing")
        # WAL mode but no -shm: no writer is alive and no WAL is pending (a writer from
        # before rollback-on-close). mode=ro would create -wal/-shm; immutable doesn't.
        immutable = _wal_without_shm(path)
        try:
            conn = connect(path, read_only=True, immutable=immutable)
        except sqlite3.Error as exc:
            raise _db_error(exc, path) from exc
        index = cls(conn, path, writable=False)
        try:
            index._check_version()
        except BaseException:
            conn.close()
            raise
        return index

    def _check_version(self) -> None:
        version = self._one("PRAGMA user_version")[0]
        if version not in READABLE_SCHEMA_VERSIONS:
            raise ArchiveError(
                f"index {self.path} has schema version {version}; this crawler reads versions "
                f"{', '.join(map(str, READABLE_SCHEMA_VERSIONS))}"
            )

    def close(self) -> None:
        with self._lock:
            if self.writable:
                # Back to rollback-journal mode (this checkpoints and removes -wal and
                # -shm), so that a read-only opener never has to create them. The next
                # writer switches to WAL again. If a reader holds the file this fails,
                # and staying in WAL is harmless.
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("PRAGMA journal_mode = DELETE")
            self._conn.close()

    # -- plumbing ----------------------------------------------------------------------------

    def _tx(self) -> AbstractContextManager[sqlite3.Connection]:
        """One small write transaction; sqlite errors become archive errors."""
        if not self.writable:
            raise ArchiveError(f"index {self.path} is open read-only")
        return transaction(self._conn, self._lock, lambda exc: _db_error(exc, self.path))

    def _one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        with self._lock:
            try:
                return self._conn.execute(sql, params).fetchone()
            except sqlite3.Error as exc:
                raise _db_error(exc, self.path) from exc

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            try:
                return self._conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise _db_error(exc, self.path) from exc

    def _stream(self, sql: str, params: Sequence[Any] = ()) -> Iterator[Any]:
        # Rows are fetched a batch at a time: memory stays flat for any archive size.
        # A separate cursor, so the caller may write through this Index while iterating.
        try:
            with self._lock:
                cur = self._conn.cursor()
                cur.execute(sql, params)
            while True:
                with self._lock:
                    rows = cur.fetchmany(256)
                if not rows:
                    break
                yield from rows
        except sqlite3.Error as exc:
            raise _db_error(exc, self.path) from exc

    def integrity_check(self) -> list[str]:
        """SQLite's own check: ``["ok"]`` when the file is sound."""
        return [r[0] for r in self._all("PRAGMA integrity_check")]


def require_row(cur: sqlite3.Cursor, message: str) -> None:
    if cur.rowcount == 0:
        raise ArchiveError(message)


def _wal_without_shm(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            header = f.read(20)
    except OSError:
        return False
    # Bytes 18 and 19 of the header are the write/read format versions: 2 means WAL.
    in_wal = len(header) == 20 and header[18] == 2 and header[19] == 2
    shm = path.with_name(path.name + "-shm")
    wal = path.with_name(path.name + "-wal")
    return in_wal and not shm.exists() and not wal.exists()


def _db_error(exc: sqlite3.Error, path: Path) -> ArchiveError:
    code = getattr(exc, "sqlite_errorcode", None)
    if code == sqlite3.SQLITE_FULL:
        return DiskFullError(f"disk full while writing {path}: free space, then rerun")
    if code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
        return ArchiveError(f"damaged index {path}: {exc}")
    if code in (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM):
        return ArchiveError(f"cannot use index {path}: {exc}")
    return ArchiveError(f"index {path}: {exc}")

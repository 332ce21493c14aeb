"""An archive's own small SQLite file: ``retention.sqlite``, ``productions.sqlite``.

Each is append-only history that must survive a crash whole, so unlike the index it
runs ``journal_mode=DELETE`` and ``synchronous=FULL``; it is created 0600 on the first
write, and an archive without it reads as empty. In a bucket every row is also an
object (``journal``, see :mod:`crawler.archive.journal`) and the file is a cache.
A subclass names its ``FILENAME``, ``SCHEMA`` (split on ";\\n" alone: triggers hold
";" inside BEGIN ... END) and ``SCHEMA_VERSION``.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, ClassVar, Self

from crawler.archive.sqlite import connect, run_script, transaction, user_version
from crawler.errors import ArchiveError

__all__ = ["SideFile"]


class SideFile:
    """Open with :meth:`open` (creating the file) or :meth:`open_reader` (never writes)."""

    FILENAME: ClassVar[str]
    SCHEMA: ClassVar[str]
    SCHEMA_VERSION: ClassVar[int]

    def __init__(self, conn: sqlite3.Connection | None, path: Path, *, writable: bool) -> None:
        self._conn = conn  # None: the file does not exist (a reader of an older archive)
        self.path = path
        self.writable = writable
        self._lock = threading.RLock()
        # In a bucket: puts a row as an object first and returns its key.
        self.journal: Callable[[str, dict[str, Any]], str] | None = None

    @classmethod
    def open(cls, archive_dir: Path) -> Self:
        path = Path(archive_dir) / cls.FILENAME
        try:
            if not path.exists():
                # 0600 from the start: the process may not be running under umask 077.
                os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
            conn = connect(path)
            conn.execute("PRAGMA busy_timeout = 10000")
            conn.execute("PRAGMA journal_mode = DELETE")
            conn.execute("PRAGMA synchronous = FULL")
        except (sqlite3.Error, OSError) as exc:
            raise ArchiveError(f"cannot open {path}: {exc}") from None
        opened = cls(conn, path, writable=True)
        try:
            if user_version(conn) == 0:
                with opened._tx() as c:
                    if user_version(c) == 0:
                        run_script(c, cls.SCHEMA, ";\n")
                        c.execute(f"PRAGMA user_version = {cls.SCHEMA_VERSION}")
            opened._check_version()
        except BaseException:
            conn.close()
            raise
        return opened

    @classmethod
    def open_reader(cls, archive_dir: Path) -> Self:
        """Read-only; an archive without the file reads as empty."""
        path = Path(archive_dir) / cls.FILENAME
        if not path.exists():
            return cls(None, path, writable=False)
        try:
            conn = connect(path, read_only=True)
            conn.execute("PRAGMA busy_timeout = 10000")
        except sqlite3.Error as exc:
            raise ArchiveError(f"cannot open {path}: {exc}") from None
        opened = cls(conn, path, writable=False)
        opened._check_version()
        return opened

    def _check_version(self) -> None:
        version = self._rows("PRAGMA user_version")[0][0]
        if version != self.SCHEMA_VERSION:
            raise ArchiveError(
                f"{self.path} has schema version {version}; "
                f"this crawler reads {self.SCHEMA_VERSION}"
            )

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _tx(self) -> AbstractContextManager[sqlite3.Connection]:
        if not self.writable or self._conn is None:
            raise ArchiveError(f"{self.path} is open read-only")
        return transaction(self._conn, self._lock, self._error)

    def _error(self, exc: sqlite3.Error) -> ArchiveError:
        return ArchiveError(f"{self.path}: {exc}")

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        if self._conn is None:
            return []
        with self._lock:
            try:
                return self._conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise self._error(exc) from None

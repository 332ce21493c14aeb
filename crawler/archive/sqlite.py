"""SQLite plumbing shared by the archive's three database files.

``index.sqlite`` (:mod:`crawler.archive.db`), ``search.sqlite``
(:mod:`crawler.read.searchindex`) and ``retention.sqlite``
(:mod:`crawler.retention.store`) each keep their own schema, pragmas and error
wording; how a connection is opened (a writer, or ``mode=ro`` that never
writes), how a schema script is run, and what a write transaction is, live here
once. A leaf: stdlib only.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from urllib.parse import quote

__all__ = ["connect", "immediate", "run_script", "transaction", "user_version"]


def connect(path: Path, *, read_only: bool = False, immutable: bool = False) -> sqlite3.Connection:
    """Autocommit (transactions are explicit), usable from worker threads one call at a time.

    ``read_only``: SQLite is told ``mode=ro`` and so never writes, nor creates the file;
    ``immutable`` also spares it the -wal/-shm files (see ``archive.db``).
    """
    if not read_only:
        return sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    uri = f"file:{quote(str(path.resolve()))}?mode=ro"
    if immutable:
        uri += "&immutable=1"
    return sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)


def run_script(conn: sqlite3.Connection, script: str, separator: str = ";") -> None:
    """Statement by statement: ``executescript()`` would COMMIT on its own."""
    for stmt in script.split(separator):
        if stmt.strip():
            conn.execute(stmt)


def user_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


@contextmanager
def immediate(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction: BEGIN IMMEDIATE, COMMIT, or ROLLBACK on any exception."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


@contextmanager
def transaction(
    conn: sqlite3.Connection,
    lock: AbstractContextManager[object],
    error: Callable[[sqlite3.Error], Exception],
) -> Iterator[sqlite3.Connection]:
    """:func:`immediate` under ``lock``; a sqlite error (the body's too) becomes ``error(exc)``."""
    with lock:
        try:
            with immediate(conn) as c:
                yield c
        except sqlite3.Error as exc:
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            raise error(exc) from exc

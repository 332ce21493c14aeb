"""Rows journalled in a bucket: each one a write-once object, replayed into the local cache.

In an S3 archive a SQLite file that holds what must not be lost (``retention.sqlite``,
``productions.sqlite``) is only a cache (docs/ARCHIVE.md, "The local cache"). Each of
its rows is first put once as an object ``{"kind", "row"}`` (sorted keys) under the
file's prefix in the bucket; the cache records the key of every object it applied in
``journal_applied``, in the row's own transaction, and a cache being opened replays,
in key order, the objects it has not applied. One codec for both files: this module.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
from collections.abc import Callable, Collection, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

import orjson

from crawler.archive.store.base import ObjectStore
from crawler.errors import ArchiveError

__all__ = ["applied_keys", "journalled", "mark_applied", "put_row", "replay", "timed_key"]

_TABLE = "CREATE TABLE IF NOT EXISTS journal_applied (key TEXT PRIMARY KEY)"

Rows = Callable[[str], Sequence[Any]]
Apply = Callable[[str, str, dict[str, Any]], None]


def timed_key(prefix: str, kind: str) -> str:
    """``<prefix><at>-<kind>-<random>.json``: <at> a sortable UTC time, so key order is time."""
    at = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    return f"{prefix}{at}-{kind}-{secrets.token_hex(4)}.json"


def put_row(store: ObjectStore, key: str, kind: str, row: dict[str, Any], what: str) -> bool:
    """Put the row's object once; False if the key exists already (nothing written)."""
    body = orjson.dumps({"kind": kind, "row": row}, option=orjson.OPT_SORT_KEYS) + b"\n"
    md5, sha = hashlib.md5(body).hexdigest(), hashlib.sha256(body).hexdigest()
    return store.put_once(key, body, md5=md5, sha256=sha, size=len(body), kind=what)


def mark_applied(c: sqlite3.Connection, key: str) -> bool:
    """Record ``key`` as applied (inside the row's transaction); False if it was already."""
    c.execute(_TABLE)
    cur = c.execute("INSERT OR IGNORE INTO journal_applied (key) VALUES (?)", (key,))
    return cur.rowcount == 1


def applied_keys(rows: Rows) -> set[str]:
    """The keys a cache applied (none in a cache that never replayed: a disk archive)."""
    if not rows("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'journal_applied'"):
        return set()
    return {r[0] for r in rows("SELECT key FROM journal_applied")}


def replay(
    store: ObjectStore,
    prefix: str,
    applied: set[str],
    kinds: Collection[str],
    apply: Apply,
    what: str,
) -> None:
    """Apply, in key order, every object under ``prefix`` not in ``applied``."""
    for key in store.list(prefix):
        if key in applied or not key.endswith(".json"):
            continue
        try:
            doc = orjson.loads(store.get(key))
            kind, row = doc["kind"], doc["row"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            raise ArchiveError(f"{store.where(key)} is damaged") from None
        if kind not in kinds or not isinstance(row, dict):
            raise ArchiveError(f"{store.where(key)}: unknown {what} {kind!r}")
        apply(key, kind, row)


class _Journalled(Protocol):
    journal: Callable[[str, dict[str, Any]], str] | None

    def close(self) -> None: ...


J = TypeVar("J", bound=_Journalled)


def journalled(
    store: ObjectStore,
    opened: J,
    sync: Callable[[J], None],
    put: Callable[[str, dict[str, Any]], str],
) -> J:
    """A writer's cache of rows kept in a bucket: brought up to date (``sync``), then every
    new row put as its object first (``put``). On disk the file itself is the record."""
    if store.kind == "disk":
        return opened
    try:
        sync(opened)
    except BaseException:
        opened.close()
        raise
    opened.journal = put
    return opened

"""``retention.sqlite``: legal holds, stored plans, delete intents and receipts.

A small SQLite file of its own beside ``index.sqlite`` (docs/ARCHIVE.md,
"Retention"), for three reasons: an archive without it is an archive with no
holds and no receipts, so every older archive still opens unchanged; a hold can
be added while a crawl holds the archive's lock (SQLite serialises the two
writers), and ``apply`` sees it before its next delete; and it runs with
``synchronous=FULL``, because an intent must be on disk before the DELETE it
announces is sent.

Nothing in it is ever updated or deleted except an intent, which a receipt
replaces in the same transaction: triggers refuse any other UPDATE or DELETE,
so a hold cannot be dropped by accident, only released (a new row, with who
and when).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from crawler.archive.journal import applied_keys, mark_applied
from crawler.archive.refs import BlobRef
from crawler.archive.sidefile import SideFile
from crawler.errors import ArchiveError

FILENAME = "retention.sqlite"
SCHEMA_VERSION = 1
SCOPES = ("project", "user", "org")

SCHEMA = """
CREATE TABLE hold_events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  matter TEXT NOT NULL, action TEXT NOT NULL CHECK (action IN ('add', 'release')),
  scope TEXT CHECK (scope IN ('project', 'user', 'org')), target TEXT,
  by TEXT NOT NULL, at TEXT NOT NULL, note TEXT);
CREATE TABLE plans (
  sha256 TEXT PRIMARY KEY, blob_md5 TEXT NOT NULL, blob_sha256 TEXT NOT NULL,
  blob_size INTEGER NOT NULL, stored_at TEXT NOT NULL);
CREATE TABLE intents (
  kind TEXT NOT NULL, item_id TEXT NOT NULL, plan_sha256 TEXT NOT NULL,
  at TEXT NOT NULL, path TEXT NOT NULL,
  PRIMARY KEY (kind, item_id));
CREATE TABLE receipts (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL, item_id TEXT NOT NULL, plan_sha256 TEXT NOT NULL,
  outcome TEXT NOT NULL, at TEXT NOT NULL,
  blob_md5 TEXT NOT NULL, blob_sha256 TEXT NOT NULL, blob_size INTEGER NOT NULL);
CREATE INDEX receipts_by_item ON receipts (kind, item_id);
CREATE TRIGGER hold_events_keep_update BEFORE UPDATE ON hold_events
  BEGIN SELECT RAISE(ABORT, 'hold events are never changed'); END;
CREATE TRIGGER hold_events_keep_delete BEFORE DELETE ON hold_events
  BEGIN SELECT RAISE(ABORT, 'hold events are never deleted'); END;
CREATE TRIGGER receipts_keep_update BEFORE UPDATE ON receipts
  BEGIN SELECT RAISE(ABORT, 'receipts are never changed'); END;
CREATE TRIGGER receipts_keep_delete BEFORE DELETE ON receipts
  BEGIN SELECT RAISE(ABORT, 'receipts are never deleted'); END;
CREATE TRIGGER plans_keep_delete BEFORE DELETE ON plans
  BEGIN SELECT RAISE(ABORT, 'stored plans are never deleted'); END;
"""

# Outcomes a receipt can state. ``deleted``: the DELETE answered 2xx and a GET then
# answered 404. ``already_gone``: the item answered 404 before or instead of our
# DELETE (so nothing was deleted by this run, and nothing is lost: the archive
# holds it). ``refused``: not sent, or the server refused it (409 and the like).
OUTCOMES = ("deleted", "already_gone", "refused", "failed")
DONE_OUTCOMES = ("deleted", "already_gone")


@dataclass(frozen=True)
class HoldEvent:
    seq: int
    matter: str
    action: str  # add | release
    scope: str | None  # project | user | org (None for a release)
    target: str | None
    by: str
    at: str
    note: str | None


@dataclass(frozen=True)
class Intent:
    kind: str
    item_id: str
    plan_sha256: str
    at: str
    path: str


@dataclass(frozen=True)
class ReceiptRow:
    seq: int
    kind: str
    item_id: str
    plan_sha256: str
    outcome: str
    at: str
    blob: BlobRef


class RetentionStore(SideFile):
    """Open with :meth:`open` (creating on first write) or :meth:`open_reader`."""

    FILENAME = FILENAME
    SCHEMA = SCHEMA
    SCHEMA_VERSION = SCHEMA_VERSION

    def integrity_check(self) -> list[str]:
        return [r[0] for r in self._rows("PRAGMA integrity_check")] or ["ok"]

    # -- writing: every row goes through _write (and, in a bucket, its journal first) ------

    def _write(self, kind: str, row: dict[str, Any], key: str | None = None) -> None:
        """One row in one transaction; in a bucket, its object is written first.

        ``journal`` (set for an archive in a bucket) puts the row as an object and
        returns its key, recorded in ``journal_applied`` in the same transaction, so a
        cache replaying the bucket (:meth:`replay`) applies each object exactly once.
        """
        if key is None and self.journal is not None:
            key = self.journal(kind, row)
        with self._tx() as c:
            if key is not None and not mark_applied(c, key):
                return  # applied before (a replay after a crash): once only
            _APPLY[kind](c, row)

    def replay(self, key: str, kind: str, row: dict[str, Any]) -> None:
        """Apply a bucket's journal object to this cache (no journal write)."""
        self._write(kind, row, key)

    def applied_keys(self) -> set[str]:
        return applied_keys(self._rows)

    # -- holds -------------------------------------------------------------------------------

    def add_hold(
        self, matter: str, targets: Sequence[tuple[str, str]], *, by: str, at: str, note: str | None
    ) -> None:
        for scope, _ in targets:
            if scope not in SCOPES:
                raise ValueError(f"unknown hold scope {scope!r}")
        row = {"matter": matter, "targets": [list(t) for t in targets], "by": by, "at": at}
        self._write("hold_add", dict(row, note=note))

    def release_hold(self, matter: str, *, by: str, at: str, note: str | None) -> None:
        self._write("hold_release", {"matter": matter, "by": by, "at": at, "note": note})

    def hold_events(self) -> list[HoldEvent]:
        rows = self._rows(
            "SELECT seq, matter, action, scope, target, by, at, note FROM hold_events ORDER BY seq"
        )
        return [HoldEvent(*r) for r in rows]

    # -- plans -------------------------------------------------------------------------------

    def add_plan(self, sha256: str, blob: BlobRef, *, at: str) -> None:
        self._write("plan", {"sha256": sha256, "blob": blob.to_json(), "at": at})

    def plans_stored(self) -> list[tuple[str, BlobRef, str]]:
        """(plan_sha256, blob, stored_at) of every stored plan, in the order stored."""
        rows = self._rows(
            "SELECT sha256, blob_md5, blob_sha256, blob_size, stored_at FROM plans "
            "ORDER BY stored_at, sha256"
        )
        return [(r[0], BlobRef(r[1], r[2], r[3]), r[4]) for r in rows]

    def plans(self) -> dict[str, BlobRef]:
        rows = self._rows("SELECT sha256, blob_md5, blob_sha256, blob_size FROM plans")
        return {r[0]: BlobRef(r[1], r[2], r[3]) for r in rows}

    # -- intents and receipts ----------------------------------------------------------------

    def add_intent(self, intent: Intent) -> None:
        """Durable before the DELETE is sent; refused if one is already open for the item."""
        if any(i.kind == intent.kind and i.item_id == intent.item_id for i in self.intents()):
            raise ArchiveError(
                f"an unfinished delete of {intent.kind} {intent.item_id} is already recorded"
            )
        self._write("intent", asdict(intent))

    def intents(self) -> list[Intent]:
        rows = self._rows("SELECT kind, item_id, plan_sha256, at, path FROM intents ORDER BY at")
        return [Intent(*r) for r in rows]

    def drop_intent(self, kind: str, item_id: str) -> None:
        """An intent whose DELETE was never sent (a later GET found the item still there)."""
        self._write("intent_dropped", {"kind": kind, "item_id": item_id})

    def add_receipt(
        self, kind: str, item_id: str, plan_sha256: str, outcome: str, at: str, blob: BlobRef
    ) -> None:
        """The receipt row (its blob already durable) and the intent's end, in one transaction."""
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown receipt outcome {outcome!r}")
        self._write(
            "receipt",
            {"kind": kind, "item_id": item_id, "plan_sha256": plan_sha256, "outcome": outcome,
             "at": at, "blob": blob.to_json()},
        )  # fmt: skip

    def receipts(self, kind: str | None = None, item_id: str | None = None) -> list[ReceiptRow]:
        sql = (
            "SELECT seq, kind, item_id, plan_sha256, outcome, at, blob_md5, blob_sha256, "
            "blob_size FROM receipts"
        )
        where, params = [], []
        if kind is not None:
            where.append("kind = ?")
            params.append(kind)
        if item_id is not None:
            where.append("item_id = ?")
            params.append(item_id)
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = self._rows(sql + " ORDER BY seq", params)
        return [
            ReceiptRow(r[0], r[1], r[2], r[3], r[4], r[5], BlobRef(r[6], r[7], r[8])) for r in rows
        ]

    def done_receipt(self, kind: str, item_id: str) -> ReceiptRow | None:
        """The receipt that shows this item deleted (or found gone), if any."""
        for row in self.receipts(kind, item_id):
            if row.outcome in DONE_OUTCOMES:
                return row
        return None


# -- the rows each kind of write adds (one codec for the live writes and a replay) -------------


def _hold_add(c: sqlite3.Connection, row: dict[str, Any]) -> None:
    c.executemany(
        "INSERT INTO hold_events (matter, action, scope, target, by, at, note) "
        "VALUES (?, 'add', ?, ?, ?, ?, ?)",
        [(row["matter"], s, t, row["by"], row["at"], row.get("note")) for s, t in row["targets"]],
    )


def _hold_release(c: sqlite3.Connection, row: dict[str, Any]) -> None:
    c.execute(
        "INSERT INTO hold_events (matter, action, by, at, note) VALUES (?, 'release', ?, ?, ?)",
        (row["matter"], row["by"], row["at"], row.get("note")),
    )


def _plan(c: sqlite3.Connection, row: dict[str, Any]) -> None:
    blob = BlobRef.from_json(row["blob"])
    c.execute(
        "INSERT OR IGNORE INTO plans (sha256, blob_md5, blob_sha256, blob_size, stored_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (row["sha256"], blob.md5, blob.sha256, blob.size, row["at"]),
    )


def _intent(c: sqlite3.Connection, row: dict[str, Any]) -> None:
    try:
        c.execute(
            "INSERT INTO intents (kind, item_id, plan_sha256, at, path) VALUES (?, ?, ?, ?, ?)",
            (row["kind"], row["item_id"], row["plan_sha256"], row["at"], row["path"]),
        )
    except sqlite3.IntegrityError:
        raise ArchiveError(
            f"an unfinished delete of {row['kind']} {row['item_id']} is already recorded"
        ) from None


def _intent_dropped(c: sqlite3.Connection, row: dict[str, Any]) -> None:
    c.execute("DELETE FROM intents WHERE kind = ? AND item_id = ?", (row["kind"], row["item_id"]))


def _receipt(c: sqlite3.Connection, row: dict[str, Any]) -> None:
    blob = BlobRef.from_json(row["blob"])
    c.execute(
        "INSERT INTO receipts (kind, item_id, plan_sha256, outcome, at, blob_md5, "
        "blob_sha256, blob_size) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (row["kind"], row["item_id"], row["plan_sha256"], row["outcome"], row["at"],
         blob.md5, blob.sha256, blob.size),
    )  # fmt: skip
    _intent_dropped(c, row)


_APPLY: dict[str, Callable[[sqlite3.Connection, dict[str, Any]], None]] = {
    "hold_add": _hold_add,
    "hold_release": _hold_release,
    "plan": _plan,
    "intent": _intent,
    "intent_dropped": _intent_dropped,
    "receipt": _receipt,
}
JOURNAL_KINDS = tuple(_APPLY)

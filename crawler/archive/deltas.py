"""Delta snapshots: a snapshot that stores only the projects it changed (docs/ARCHIVE.md,
"Delta snapshots").

Part of :class:`~crawler.archive.index.Index`. A ``snapshot_deltas`` row says "the
projects this snapshot does not store are its base's, as the base has them", and
the base may be a delta itself, down to a full snapshot (the chain's epoch). Every
query of a snapshot's projects reads them *resolved*: per project the row of the
nearest snapshot of the chain, an inherited ``done`` shown as ``carried`` (this
snapshot fetched nothing for it). So every reader sees each snapshot whole while
a changes cycle writes a row per changed project. Chains are immutable once
written, so they are cached.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from crawler.archive.db import Database
from crawler.archive.schema import PROJECT_COLS, ProjectRow, project_row

__all__ = ["MAX_DEPTH", "REMOVED", "Deltas"]

# A delta's row for a project its base has and it does not (a full walk's vanished one).
REMOVED = "removed"

# A chain longer than this is materialised (a full copy of the rows) by the next delta:
# readers then resolve at most this many snapshots. A day of 5-minute cycles is 288.
MAX_DEPTH = 400

_RESOLVED = (
    "WITH RECURSIVE chain(sid, depth) AS (SELECT ?, 0 UNION ALL SELECT d.base_id, "
    "chain.depth + 1 FROM snapshot_deltas d JOIN chain ON d.snapshot_id = chain.sid), "
    "resolved AS (SELECT ? AS snapshot_id, project_id, created_at, updated_at, organization_id, "
    "organization_uuid, user_id, user_email, deleted_at, list_entry, list_page, "
    "CASE WHEN depth > 0 AND state = 'done' THEN 'carried' ELSE state END AS state, "
    "record_md5, record_sha256, record_size FROM (SELECT sp.*, chain.depth AS depth, "
    "row_number() OVER (PARTITION BY sp.project_id ORDER BY chain.depth) AS rn "
    "FROM snapshot_projects sp JOIN chain ON sp.snapshot_id = chain.sid) "
    "WHERE rn = 1 AND state != 'removed') "
)


class Deltas(Database):
    def _deltas_table(self) -> bool:
        if self.writable or getattr(self, "_has_deltas", False):
            return True
        row = self._one(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'snapshot_deltas'"
        )
        self._has_deltas = row is not None
        return self._has_deltas

    def chain(self, snapshot_id: str) -> list[str]:
        """The snapshot, its base, the base's base, ... down to a full snapshot."""
        cache: dict[str, list[str]] = self.__dict__.setdefault("_chains", {})
        if snapshot_id in cache:
            return cache[snapshot_id]
        out = [snapshot_id]
        if self._deltas_table():
            while True:
                row = self._one(
                    "SELECT base_id FROM snapshot_deltas WHERE snapshot_id = ?", (out[-1],)
                )
                if row is None or row[0] in out:
                    break
                out.append(str(row[0]))
        if len(out) > 1:  # a snapshot without a base may still gain one (its seeding)
            cache[snapshot_id] = out
        return out

    def is_delta(self, snapshot_id: str) -> bool:
        return len(self.chain(snapshot_id)) > 1

    def projects_source(self, snapshot_id: str) -> tuple[str, str, list[Any]]:
        """(WITH clause, table, its parameters) for "the projects of this snapshot"."""
        if not self.is_delta(snapshot_id):
            return "", "snapshot_projects", []
        cached = self._resolved_table(snapshot_id)
        if cached is not None:
            return "", cached, []
        return _RESOLVED, "resolved", [snapshot_id, snapshot_id]

    def _resolved_table(self, snapshot_id: str) -> str | None:
        """A finished delta's resolved rows, kept in a TEMP table for this connection.

        Resolving a deep chain takes a fraction of a second; a reader (the desk's pages)
        asks many times. Only finished snapshots, keyed by their manifest's sha256: their
        rows change only if a rerun reopens them, which changes the sha256.
        """
        row = self._one(
            "SELECT status, manifest_sha256 FROM snapshots WHERE id = ?", (snapshot_id,)
        )
        if row is None or row[0] not in ("complete", "partial") or row[1] is None:
            return None
        tables: dict[tuple[str, str], str] = self.__dict__.setdefault("_resolved_tables", {})
        key = (snapshot_id, str(row[1]))
        if key not in tables:
            name = f"temp.resolved_{len(tables)}"
            try:
                with self._lock:
                    self._conn.execute(
                        f"CREATE TEMP TABLE {name.split('.')[1]} AS {_RESOLVED}"
                        "SELECT * FROM resolved",
                        (snapshot_id, snapshot_id),
                    )
                    self._conn.execute(
                        f"CREATE INDEX {name}_by_id ON {name.split('.')[1]} (project_id)"
                    )
            except sqlite3.Error:
                return None  # no temp store here: resolve each time
            tables[key] = name
        return tables[key]

    def resolved_project(self, snapshot_id: str, project_id: str) -> ProjectRow | None:
        """One project of a snapshot: a primary-key probe per snapshot of the chain, or one
        look-up in a finished delta's resolved rows (a full walk asks for every project)."""
        chain = self.chain(snapshot_id)
        cached = self._resolved_table(snapshot_id) if len(chain) > 2 else None
        if cached is not None:
            row = self._one(
                f"SELECT {PROJECT_COLS} FROM {cached} WHERE project_id = ?", (project_id,)
            )
            return None if row is None else project_row(row)
        for depth, sid in enumerate(chain):
            row = self._one(
                f"SELECT {PROJECT_COLS} FROM snapshot_projects WHERE snapshot_id = ? "
                "AND project_id = ?",
                (sid, project_id),
            )
            if row is not None:
                if row[10] == REMOVED:  # a tombstone: gone from this snapshot on
                    return None
                found = project_row(row)
                found.snapshot_id = snapshot_id
                if depth > 0 and found.state == "done":
                    found.state = "carried"
                return found
        return None

    def own_projects(self, snapshot_id: str) -> list[ProjectRow]:
        """The rows the snapshot itself stores (a delta: only what it changed)."""
        rows = self._all(
            f"SELECT {PROJECT_COLS} FROM snapshot_projects WHERE snapshot_id = ? "
            "ORDER BY instant(created_at), project_id",
            (snapshot_id,),
        )
        return [project_row(r) for r in rows]

    def delta_base(self, snapshot_id: str) -> tuple[str, int] | None:
        """(base id, depth) of a delta snapshot, else None."""
        if not self._deltas_table():
            return None
        row = self._one(
            "SELECT base_id, depth FROM snapshot_deltas WHERE snapshot_id = ?", (snapshot_id,)
        )
        return None if row is None else (str(row[0]), int(row[1]))

"""A changes cycle's rows (``crawler watch``): the parent's projects carried in one
statement, then the few list entries that moved, upserted page by page.

Part of :class:`~crawler.archive.index.Index`. A changes cycle never walks the
whole list, so the projects it does not hear about are the parent's, as the
parent had them (docs/ARCHIVE.md, "Changes cycles").
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

import orjson

from crawler.archive.db import require_row
from crawler.archive.deltas import MAX_DEPTH, REMOVED, Deltas
from crawler.archive.refs import BlobRef
from crawler.archive.schema import (
    DELTA_SCHEMA_VERSION,
    PROJECT_COLS,
    ProjectRow,
    dumps_text,
    list_row,
    loads_text,
    project_row,
)

__all__ = ["CarryRows"]

_SEED = (
    "{w}INSERT OR IGNORE INTO snapshot_projects (snapshot_id, project_id, created_at, updated_at, "
    "organization_id, organization_uuid, user_id, user_email, deleted_at, list_entry, "
    "list_page, state, record_md5, record_sha256, record_size) "
    "SELECT ?, project_id, created_at, updated_at, organization_id, organization_uuid, user_id, "
    "user_email, deleted_at, list_entry, list_page, "
    # A finished project is carried, a gone one stays gone; anything else is fetched again.
    "CASE WHEN state IN ('done', 'carried') AND record_md5 IS NOT NULL THEN 'carried' "
    "WHEN state = 'gone' THEN 'gone' ELSE 'listed' END, record_md5, record_sha256, record_size "
    "FROM {table} WHERE snapshot_id = ?"
)
_UPDATE_ENTRY = (
    "UPDATE snapshot_projects SET created_at = ?, updated_at = ?, organization_id = ?, "
    "organization_uuid = ?, user_id = ?, user_email = ?, deleted_at = ?, list_entry = ?, "
    "list_page = ?, state = 'listed' WHERE snapshot_id = ? AND project_id = ?"
)
_INSERT_ROW = (
    "INSERT INTO snapshot_projects (snapshot_id, project_id, created_at, updated_at, "
    "organization_id, organization_uuid, user_id, user_email, deleted_at, list_entry, "
    "list_page, state, record_md5, record_sha256, record_size) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _ref(ref: BlobRef | None) -> tuple[Any, Any, Any]:
    return (ref.md5, ref.sha256, ref.size) if ref is not None else (None, None, None)


def _tombstone(snapshot_id: str, r: tuple[Any, ...]) -> tuple[Any, ...]:
    """A removed project's row: its last list entry, no record (PROJECT_COLS order in)."""
    return (snapshot_id, *r[1:10], r[14], REMOVED, None, None, None)


def _listed(snapshot_id: str, r: ProjectRow) -> tuple[Any, ...]:
    """A parent's row copied into a delta, to be fetched again (a gone one without record)."""
    record = None if r.state == "gone" else r.record
    page = dumps_text(r.list_page) if r.list_page is not None else None
    return (
        snapshot_id, r.project_id, r.created_at, r.updated_at, r.organization_id,
        r.organization_uuid, r.user_id, r.user_email, r.deleted_at, dumps_text(r.list_entry),
        page, "listed", *_ref(record),
    )  # fmt: skip


class CarryRows(Deltas):
    def seed_from_parent(
        self,
        snapshot_id: str,
        parent_id: str,
        refetch: Iterable[str],
        *,
        stats: dict[str, Any],
        feed_state: dict[str, Any],
    ) -> None:
        """This snapshot as a delta of the parent storing only ``refetch`` and the parent's
        unsettled projects (all set to be fetched), with its stats and its feed state, in
        one transaction: a kill leaves all or none. Past ``MAX_DEPTH`` the parent's rows are
        copied instead (a full materialisation, the next chain's epoch)."""
        base = self.delta_base(parent_id)
        depth = (base[1] if base else 0) + 1
        rows: dict[str, ProjectRow] = {}
        if depth <= MAX_DEPTH:
            w, table, params = self.projects_source(parent_id)
            for r in self._all(
                f"{w}SELECT {PROJECT_COLS} FROM {table} WHERE snapshot_id = ? "
                "AND state NOT IN ('done', 'carried', 'gone')",
                [*params, parent_id],
            ):
                rows[r[1]] = project_row(r)
            for pid in refetch:
                found = None if pid in rows else self.resolved_project(parent_id, pid)
                if found is not None:
                    rows[pid] = found
        with self._tx() as c:
            if depth <= MAX_DEPTH:
                c.execute(
                    "INSERT INTO snapshot_deltas (snapshot_id, base_id, depth) VALUES (?, ?, ?)",
                    (snapshot_id, parent_id, depth),
                )
                c.executemany(_INSERT_ROW, [_listed(snapshot_id, r) for r in rows.values()])
                c.execute(f"PRAGMA user_version = {DELTA_SCHEMA_VERSION}")
            else:
                self._materialise(c, snapshot_id, parent_id, refetch)
            cur = c.execute(
                "UPDATE snapshots SET stats = ? WHERE id = ?", (dumps_text(stats), snapshot_id)
            )
            require_row(cur, f"unknown snapshot {snapshot_id}")
            c.execute(
                "INSERT OR REPLACE INTO snapshot_feed (snapshot_id, state) VALUES (?, ?)",
                (snapshot_id, orjson.dumps(feed_state).decode()),
            )

    def _materialise(
        self, c: sqlite3.Connection, snapshot_id: str, parent_id: str, refetch: Iterable[str]
    ) -> None:
        w, table, params = self.projects_source(parent_id)
        c.execute(_SEED.format(w=w, table=table), [*params, snapshot_id, parent_id])
        # A gone project added nothing to the totals: its fetch takes nothing back.
        c.executemany(
            "UPDATE snapshot_projects SET state = 'listed', "
            "record_md5 = IIF(state = 'gone', NULL, record_md5), "
            "record_sha256 = IIF(state = 'gone', NULL, record_sha256), "
            "record_size = IIF(state = 'gone', NULL, record_size) "
            "WHERE snapshot_id = ? AND project_id = ?",
            ((snapshot_id, pid) for pid in refetch),
        )

    def upsert_list_page(
        self,
        snapshot_id: str,
        entries: Sequence[dict[str, Any]],
        *,
        request_id: str | None,
        page: dict[str, Any] | None,
    ) -> list[str]:
        """One list page of a changes cycle: a new or moved entry replaces the carried row
        (state ``listed``, its record kept until the fetch replaces it). The ids changed."""
        page_json = dumps_text(page) if page is not None else None
        delta = self.is_delta(snapshot_id)
        changed: list[str] = []
        with self._tx() as c:
            cur = c.execute(
                "UPDATE snapshots SET list_pages = list_pages + 1, "
                "last_page_request_id = COALESCE(?, last_page_request_id) WHERE id = ?",
                (request_id, snapshot_id),
            )
            require_row(cur, f"unknown snapshot {snapshot_id}")
            for entry in entries:
                row = list_row(snapshot_id, entry, page_json)
                old = c.execute(
                    "SELECT list_entry, state FROM snapshot_projects "
                    "WHERE snapshot_id = ? AND project_id = ?",
                    (snapshot_id, row[1]),
                ).fetchone()
                if old is not None:
                    if old[1] != "listed" and loads_text(old[0], "list entry") == entry:
                        continue  # the overlap re-listed an entry the parent has as it is
                    c.execute(_UPDATE_ENTRY, (*row[2:], snapshot_id, row[1]))
                else:
                    inherited = self.resolved_project(snapshot_id, row[1]) if delta else None
                    if inherited is not None and inherited.list_entry == entry:
                        continue
                    keep = inherited.record if inherited and inherited.state != "gone" else None
                    c.execute(_INSERT_ROW, (*row, "listed", *_ref(keep)))
                changed.append(row[1])
        return changed

    def compact_into_delta(self, snapshot_id: str, parent_id: str) -> int:
        """A finished full walk as a delta of its parent: drop the rows the parent has as
        they are (carried: same entry, same record), add a tombstone (``removed``) for each
        project the parent has and the walk did not list; one transaction. Rows dropped."""
        if self.is_delta(snapshot_id):
            return 0  # compacted before a kill, or a changes cycle: nothing to do
        base = self.delta_base(parent_id)
        depth = (base[1] if base else 0) + 1
        if depth > MAX_DEPTH:
            return 0  # stays whole: the next chain's epoch
        w, table, params = self.projects_source(parent_id)
        parent = {
            r[1]: r
            for r in self._all(
                f"{w}SELECT {PROJECT_COLS} FROM {table} WHERE snapshot_id = ?",
                [*params, parent_id],
            )
        }
        drop, seen = [], set()
        for r in self._all(
            f"SELECT {PROJECT_COLS} FROM snapshot_projects WHERE snapshot_id = ?", (snapshot_id,)
        ):
            seen.add(r[1])
            old = parent.get(r[1])
            if old is None or r[10] != "carried" or old[11:14] != r[11:14]:
                continue
            if loads_text(old[9], "list entry") == loads_text(r[9], "list entry"):
                drop.append(r[1])
        gone = [p for pid, p in parent.items() if pid not in seen]
        with self._tx() as c:
            c.executemany(
                "DELETE FROM snapshot_projects WHERE snapshot_id = ? AND project_id = ?",
                ((snapshot_id, pid) for pid in drop),
            )
            c.executemany(_INSERT_ROW, [_tombstone(snapshot_id, p) for p in gone])
            c.execute(
                "INSERT INTO snapshot_deltas (snapshot_id, base_id, depth) VALUES (?, ?, ?)",
                (snapshot_id, parent_id, depth),
            )
            c.execute(f"PRAGMA user_version = {DELTA_SCHEMA_VERSION}")
        return len(drop)

    def rebuild_delta(
        self, snapshot_id: str, base_id: str, depth: int, removed: Iterable[str]
    ) -> None:
        """A delta read back from its manifest (a cache rebuilt from a bucket): its
        ``snapshot_deltas`` row and its tombstones, each the base's last row of the
        project as compaction wrote it (the manifest names the id only)."""
        w, table, params = self.projects_source(base_id)
        stones = []
        for pid in removed:
            r = self._one(
                f"{w}SELECT {PROJECT_COLS} FROM {table} WHERE snapshot_id = ? AND project_id = ?",
                [*params, base_id, pid],
            )
            if r is not None:  # not in the base: not in this snapshot either way
                stones.append(_tombstone(snapshot_id, r))
        with self._tx() as c:
            c.executemany(_INSERT_ROW, stones)
            c.execute(
                "INSERT INTO snapshot_deltas (snapshot_id, base_id, depth) VALUES (?, ?, ?)",
                (snapshot_id, base_id, depth),
            )
            c.execute(f"PRAGMA user_version = {DELTA_SCHEMA_VERSION}")

    def newest_change(self, snapshot_id: str) -> str | None:
        """The newest change the snapshot holds: its latest feed event, or the latest
        ``updated_at`` among the projects it fetched (an instant key, or None)."""
        row = self._one(
            "SELECT max(k) FROM (SELECT max(created_key) AS k FROM feed_events "
            "WHERE snapshot_id = ? AND created_key NOT LIKE '~%' UNION ALL "
            "SELECT max(instant(updated_at)) FROM snapshot_projects "
            "WHERE snapshot_id = ? AND state != 'carried' AND updated_at IS NOT NULL)",
            (snapshot_id, snapshot_id),
        )
        value = row[0] if row else None
        return value if isinstance(value, str) and not value.startswith("~") else None

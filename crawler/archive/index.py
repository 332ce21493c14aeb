"""The catalogue, ``index.sqlite``: snapshots, their projects, blobs, run state.

The schema is exactly docs/ARCHIVE.md's (plus indexes; :mod:`crawler.archive.schema`).
Every write is one small transaction (:mod:`crawler.archive.db`). A row that refers
to a blob is only ever added after the blob is durable (the callers' side of the
write order).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Iterable, Iterator, Sequence
from typing import Any

from crawler.archive.blob_rows import BlobRows
from crawler.archive.blob_slices import BlobSlices
from crawler.archive.carry_rows import CarryRows
from crawler.archive.db import require_row
from crawler.archive.deltas import Deltas
from crawler.archive.feed_rows import FeedRows
from crawler.archive.project_pages import ProjectPages
from crawler.archive.refs import BlobRef
from crawler.archive.schema import (
    FINISHED_STATUSES,
    PROJECT_COLS,
    PROJECT_STATES,
    SCHEMA_VERSION,
    SNAPSHOT_COLS,
    SNAPSHOT_ID_RE,
    SNAPSHOT_STATUSES,
    ProjectRow,
    SnapshotRow,
    check_snapshot_id,
    dumps_text,
    instant_key,
    list_row,
    loads_text,
    project_row,
    snapshot_row,
)
from crawler.canonical import utc_now
from crawler.errors import ArchiveError

__all__ = [
    "FINISHED_STATUSES",
    "PROJECT_STATES",
    "SCHEMA_VERSION",
    "SNAPSHOT_ID_RE",
    "SNAPSHOT_STATUSES",
    "Index",
    "ProjectRow",
    "SnapshotRow",
    "check_snapshot_id",
    "instant_key",
]


class Index(FeedRows, BlobRows, ProjectPages, CarryRows, BlobSlices, Deltas):
    """The catalogue's queries; open it with :meth:`open_writer` or :meth:`open_reader`."""

    # -- snapshots ---------------------------------------------------------------------------

    def create_snapshot(
        self,
        snapshot_id: str,
        *,
        filters: dict[str, Any],
        filter_key: str,
        settings: dict[str, Any],
        incremental: bool,
        parent_id: str | None,
        started_at: str,
    ) -> None:
        check_snapshot_id(snapshot_id)
        if parent_id is not None:
            check_snapshot_id(parent_id)
        with self._tx() as c:
            try:
                c.execute(
                    "INSERT INTO snapshots (id, status, filter_key, filters, settings, "
                    "incremental, parent_id, started_at) VALUES (?, 'running', ?, ?, ?, ?, ?, ?)",
                    (
                        snapshot_id,
                        filter_key,
                        dumps_text(filters),
                        dumps_text(settings),
                        int(incremental),
                        parent_id,
                        started_at,
                    ),
                )
            except sqlite3.IntegrityError:
                raise ArchiveError(f"snapshot {snapshot_id} already exists") from None

    def get_snapshot(self, snapshot_id: str) -> SnapshotRow:
        row = self._one(f"SELECT {SNAPSHOT_COLS} FROM snapshots WHERE id = ?", (snapshot_id,))
        if row is None:
            raise ArchiveError(f"unknown snapshot {snapshot_id}")
        return snapshot_row(row)

    def list_snapshots(self) -> list[SnapshotRow]:
        rows = self._all(f"SELECT {SNAPSHOT_COLS} FROM snapshots ORDER BY instant(started_at), id")
        return [snapshot_row(r) for r in rows]

    def find_running(self, filter_key: str) -> SnapshotRow | None:
        row = self._one(
            f"SELECT {SNAPSHOT_COLS} FROM snapshots WHERE status = 'running' AND filter_key = ? "
            "ORDER BY instant(started_at) DESC, id DESC LIMIT 1",
            (filter_key,),
        )
        return None if row is None else snapshot_row(row)

    def latest_finished(self, filter_key: str | None = None) -> SnapshotRow | None:
        sql = f"SELECT {SNAPSHOT_COLS} FROM snapshots WHERE status IN ('complete', 'partial')"
        params: tuple[str, ...] = ()
        if filter_key is not None:
            sql += " AND filter_key = ?"
            params = (filter_key,)
        row = self._one(sql + " ORDER BY instant(started_at) DESC, id DESC LIMIT 1", params)
        return None if row is None else snapshot_row(row)

    def set_snapshot_status(
        self, snapshot_id: str, status: str, *, finished_at: str | None = None
    ) -> None:
        if status not in SNAPSHOT_STATUSES:
            raise ValueError(f"unknown snapshot status {status!r}")
        with self._tx() as c:
            cur = c.execute(
                "UPDATE snapshots SET status = ?, finished_at = COALESCE(?, finished_at) "
                "WHERE id = ?",
                (status, finished_at, snapshot_id),
            )
            require_row(cur, f"unknown snapshot {snapshot_id}")

    def save_stats(self, snapshot_id: str, stats: dict[str, Any]) -> None:
        with self._tx() as c:
            cur = c.execute(
                "UPDATE snapshots SET stats = ? WHERE id = ?", (dumps_text(stats), snapshot_id)
            )
            require_row(cur, f"unknown snapshot {snapshot_id}")

    def finish_snapshot(
        self, snapshot_id: str, *, manifest_sha256: str, status: str, finished_at: str | None
    ) -> None:
        """Record a durable manifest, and the status it states, in one transaction."""
        if status not in SNAPSHOT_STATUSES:
            raise ValueError(f"unknown snapshot status {status!r}")
        with self._tx() as c:
            cur = c.execute(
                "UPDATE snapshots SET manifest_sha256 = ?, status = ?, "
                "finished_at = COALESCE(?, finished_at) WHERE id = ?",
                (manifest_sha256, status, finished_at, snapshot_id),
            )
            require_row(cur, f"unknown snapshot {snapshot_id}")

    def reopen_snapshot(self, snapshot_id: str) -> None:
        """A finished snapshot becomes running again and forgets its manifest's sha256."""
        with self._tx() as c:
            cur = c.execute(
                "UPDATE snapshots SET status = 'running', manifest_sha256 = NULL, "
                "finished_at = NULL WHERE id = ?",
                (snapshot_id,),
            )
            require_row(cur, f"unknown snapshot {snapshot_id}")

    # -- the list walk -----------------------------------------------------------------------

    def record_list_page(
        self,
        snapshot_id: str,
        entries: Sequence[dict[str, Any]],
        *,
        watermark: str | None,
        request_id: str | None,
        page: dict[str, Any] | None = None,
    ) -> list[str]:
        """Store one durable list page's items and advance the walk, in one transaction.

        Items already present (a page fetched again after a resume) are left as they
        are. Returns the ids newly inserted, in page order.
        """
        page_json = dumps_text(page) if page is not None else None
        rows = [list_row(snapshot_id, entry, page_json) for entry in entries]
        inserted: list[str] = []
        with self._tx() as c:
            cur = c.execute(
                "UPDATE snapshots SET list_pages = list_pages + 1, "
                "watermark = COALESCE(?, watermark), "
                "last_page_request_id = COALESCE(?, last_page_request_id) WHERE id = ?",
                (watermark, request_id, snapshot_id),
            )
            require_row(cur, f"unknown snapshot {snapshot_id}")
            for row in rows:
                cur = c.execute(
                    "INSERT OR IGNORE INTO snapshot_projects (snapshot_id, project_id, created_at, "
                    "updated_at, organization_id, organization_uuid, user_id, user_email, "
                    "deleted_at, list_entry, list_page, state) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'listed')",
                    row,
                )
                if cur.rowcount == 1:
                    inserted.append(row[1])
        return inserted

    # -- projects ----------------------------------------------------------------------------

    def project_ids(self, snapshot_id: str) -> set[str]:
        w, table, params = self.projects_source(snapshot_id)
        rows = self._all(
            f"{w}SELECT project_id FROM {table} WHERE snapshot_id = ?", [*params, snapshot_id]
        )
        return {r[0] for r in rows}

    def projects(
        self, snapshot_id: str, states: Collection[str] | None = None
    ) -> Iterator[ProjectRow]:
        """The snapshot's projects, by created_at as an instant, then id; streamed."""
        w, table, params = self.projects_source(snapshot_id)  # a delta: resolved (deltas.py)
        sql = f"{w}SELECT {PROJECT_COLS} FROM {table} WHERE snapshot_id = ?"
        params = [*params, snapshot_id]
        if states is not None:
            states = list(states)
            if not states:
                return
            sql += f" AND state IN ({', '.join('?' * len(states))})"
            params += states
        sql += " ORDER BY instant(created_at), project_id"
        for row in self._stream(sql, params):
            yield project_row(row)

    def get_project(self, snapshot_id: str, project_id: str) -> ProjectRow | None:
        if self.is_delta(snapshot_id):
            return self.resolved_project(snapshot_id, project_id)
        row = self._one(
            f"SELECT {PROJECT_COLS} FROM snapshot_projects WHERE snapshot_id = ? "
            "AND project_id = ?",
            (snapshot_id, project_id),
        )
        return None if row is None else project_row(row)

    def set_project(
        self, snapshot_id: str, project_id: str, state: str, record: BlobRef | None
    ) -> None:
        """Set a listed project's state and record (call once the record blob is durable)."""
        with self._tx() as c:
            _set_row(c, snapshot_id, project_id, state, record)

    def record_project(
        self,
        snapshot_id: str,
        project_id: str,
        state: str,
        record: BlobRef | None,
        failures: Sequence[dict[str, Any]],
        *,
        stats: dict[str, Any],
    ) -> None:
        """A project's outcome in one transaction: its row, its failures, the snapshot's stats.

        Call once the record blob is durable. ``failures`` are record failure entries
        (``kind``, ``id``, ``reason``, ``status``, ``error_type``, ``request_id``).
        """
        at = utc_now()
        with self._tx() as c:
            _set_row(c, snapshot_id, project_id, state, record)
            rows = [_failure(snapshot_id, project_id, f, at) for f in failures]
            c.executemany(_INSERT_FAILURE, rows)
            c.execute(
                "UPDATE snapshots SET stats = ? WHERE id = ?", (dumps_text(stats), snapshot_id)
            )

    def mark_projects(self, snapshot_id: str, project_ids: Iterable[str], state: str) -> None:
        """Set the state of many projects at once (their records are left as they are)."""
        _check_state(state)
        with self._tx() as c:
            c.executemany(
                "UPDATE snapshot_projects SET state = ? WHERE snapshot_id = ? AND project_id = ?",
                ((state, snapshot_id, pid) for pid in project_ids),
            )

    def count_projects(self, snapshot_id: str) -> dict[str, int]:
        w, table, params = self.projects_source(snapshot_id)
        rows = self._all(
            f"{w}SELECT state, count(*) FROM {table} WHERE snapshot_id = ? GROUP BY state",
            [*params, snapshot_id],
        )
        return {r[0]: int(r[1]) for r in rows}

    # -- documents ---------------------------------------------------------------------------

    def get_document(self, snapshot_id: str, document_id: str) -> dict[str, Any] | None:
        row = self._one(
            "SELECT entry FROM snapshot_documents WHERE snapshot_id = ? AND document_id = ?",
            (snapshot_id, document_id),
        )
        return None if row is None else loads_text(row[0], f"document {document_id} entry")

    def put_document(self, snapshot_id: str, document_id: str, entry: dict[str, Any]) -> None:
        with self._tx() as c:
            c.execute(
                "INSERT OR REPLACE INTO snapshot_documents (snapshot_id, document_id, entry) "
                "VALUES (?, ?, ?)",
                (snapshot_id, document_id, dumps_text(entry)),
            )

    # -- failures ----------------------------------------------------------------------------

    def add_failure(
        self,
        snapshot_id: str,
        *,
        project_id: str | None,
        kind: str,
        item_id: str | None,
        reason: str,
        status: int | None,
        error_type: str | None,
        request_id: str | None,
    ) -> None:
        row = (snapshot_id, project_id, kind, item_id, reason, status, error_type, request_id)
        with self._tx() as c:
            c.execute(_INSERT_FAILURE, (*row, utc_now()))

    def failures(self, snapshot_id: str) -> list[dict[str, Any]]:
        rows = self._all(
            "SELECT project_id, kind, item_id, reason, status, error_type, request_id, at "
            "FROM failures WHERE snapshot_id = ? ORDER BY rowid",
            (snapshot_id,),
        )
        keys = (
            "project_id",
            "kind",
            "item_id",
            "reason",
            "status",
            "error_type",
            "request_id",
            "at",
        )
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def clear_failures(self, snapshot_id: str, project_id: str) -> None:
        with self._tx() as c:
            c.execute(
                "DELETE FROM failures WHERE snapshot_id = ? AND project_id = ?",
                (snapshot_id, project_id),
            )


def _check_state(state: str) -> None:
    if state not in PROJECT_STATES:
        raise ValueError(f"unknown project state {state!r}")


_INSERT_FAILURE = (
    "INSERT INTO failures (snapshot_id, project_id, kind, item_id, reason, status, "
    "error_type, request_id, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _set_row(
    c: sqlite3.Connection, snapshot_id: str, project_id: str, state: str, record: BlobRef | None
) -> None:
    _check_state(state)
    md5, sha, size = (record.md5, record.sha256, record.size) if record else (None,) * 3
    cur = c.execute(
        "UPDATE snapshot_projects SET state = ?, record_md5 = ?, record_sha256 = ?, "
        "record_size = ? WHERE snapshot_id = ? AND project_id = ?",
        (state, md5, sha, size, snapshot_id, project_id),
    )
    require_row(cur, f"unknown project {project_id} in snapshot {snapshot_id}")


def _failure(snapshot_id: str, project_id: str, f: dict[str, Any], at: str) -> tuple[Any, ...]:
    """A failures row from a record's failure entry."""
    return (
        snapshot_id,
        project_id,
        str(f["kind"]),
        f.get("id"),
        str(f["reason"]),
        f.get("status"),
        f.get("error_type"),
        f.get("request_id"),
        at,
    )

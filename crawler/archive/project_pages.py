"""Pages of a snapshot's projects, and its ids by state: what is asked without
parsing every row.

The web view's project list (``ArchiveReader.page``): a 20,000-project snapshot is
never loaded whole, only the page shown and a count. The search indexer
(``ArchiveReader.project_ids``): an incremental snapshot's carried projects. The
crawl's listing (``listed_after``): the projects a walk has recorded and no worker
has taken yet, a batch at a time, in the order they were listed.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from crawler.archive.deltas import Deltas
from crawler.archive.schema import PROJECT_COLS, ProjectRow, project_row

__all__ = ["PROJECT_SORTS", "ProjectPages", "ProjectQuery"]

_LISTED_AFTER = (
    # The row's position (rowid) is the order rows were inserted, i.e. listed: every
    # row a walk adds comes after every row already there. ``+snapshot_id`` keeps the
    # primary key's index out, so SQLite walks the table from the position on, in order.
    f"SELECT rowid, {PROJECT_COLS} FROM snapshot_projects "
    "WHERE rowid > ? AND +snapshot_id = ? AND state = 'listed' ORDER BY rowid LIMIT ?"
)

# Sort orders: name -> "expression direction" (ties broken by project id, same direction).
PROJECT_SORTS = {
    "created": "instant(created_at) ASC",
    "-created": "instant(created_at) DESC",
    "updated": "instant(updated_at) ASC",
    "-updated": "instant(updated_at) DESC",
    "name": "lower(json_extract(list_entry, '$.name')) ASC",
    "-name": "lower(json_extract(list_entry, '$.name')) DESC",
    "state": "state ASC",
}


@dataclass(frozen=True)
class ProjectQuery:
    """Filters, sort and page of a snapshot's project list."""

    organization: str | None = None  # uuid or tagged id
    creator: str | None = None  # user id or email
    deleted: bool | None = None
    text: str | None = None  # in the name, or the exact project id
    sort: str = "created"
    limit: int = 50
    offset: int = 0


class ProjectPages(Deltas):
    """The project list's queries (part of :class:`~crawler.archive.index.Index`)."""

    def page_projects(self, snapshot_id: str, q: ProjectQuery) -> tuple[list[ProjectRow], int]:
        """One page of the snapshot's projects that pass ``q``, and how many pass in all."""
        where = ["snapshot_id = ?"]
        params: list[Any] = [snapshot_id]
        if q.organization:
            where.append("(organization_uuid = ? OR organization_id = ?)")
            params += [q.organization, q.organization]
        if q.creator:
            where.append("(user_id = ? OR user_email = ?)")
            params += [q.creator, q.creator]
        if q.deleted is not None:
            where.append("deleted_at IS NOT NULL" if q.deleted else "deleted_at IS NULL")
        if q.text:
            where.append(
                "(instr(lower(json_extract(list_entry, '$.name')), ?) > 0 OR project_id = ?)"
            )
            params += [q.text.lower(), q.text]
        cond = " AND ".join(where)
        w, table, source = self.projects_source(snapshot_id)  # Deltas
        params = [*source, *params]
        total = int(self._one(f"{w}SELECT count(*) FROM {table} WHERE {cond}", params)[0])
        column, _, direction = PROJECT_SORTS[q.sort].rpartition(" ")
        rows = self._all(
            f"{w}SELECT {PROJECT_COLS} FROM {table} WHERE {cond} "
            f"ORDER BY {column} {direction}, project_id {direction} LIMIT ? OFFSET ?",
            [*params, q.limit, q.offset],
        )
        return [project_row(r) for r in rows], total

    def last_position(self) -> int:
        """The position of the newest project row of any snapshot (0: none)."""
        return int(self._one("SELECT coalesce(max(rowid), 0) FROM snapshot_projects")[0])

    def listed_after(
        self, snapshot_id: str, position: int, limit: int
    ) -> list[tuple[int, ProjectRow]]:
        """Up to ``limit`` of the snapshot's still-listed projects past ``position``, in the
        order listed, each with its position. It reads the rows past ``position`` of
        every snapshot: cheap for a running walk's, which are the newest."""
        rows = self._all(_LISTED_AFTER, (position, snapshot_id, limit))
        return [(int(r[0]), project_row(r[1:])) for r in rows]

    def project_ids_in(self, snapshot_id: str, states: Collection[str]) -> list[str]:
        """Ids of the snapshot's projects in ``states`` (e.g. the carried ones)."""
        states = list(states)
        if not states:
            return []
        w, table, source = self.projects_source(snapshot_id)
        rows = self._all(
            f"{w}SELECT project_id FROM {table} WHERE snapshot_id = ? "
            f"AND state IN ({', '.join('?' * len(states))})",
            [*source, snapshot_id, *states],
        )
        return [r[0] for r in rows]

    def project_organizations(self, snapshot_id: str) -> list[str]:
        """The organisation uuids the snapshot's projects belong to."""
        w, table, source = self.projects_source(snapshot_id)
        rows = self._all(
            f"{w}SELECT DISTINCT organization_uuid FROM {table} "
            "WHERE snapshot_id = ? AND organization_uuid IS NOT NULL ORDER BY 1",
            [*source, snapshot_id],
        )
        return [r[0] for r in rows]

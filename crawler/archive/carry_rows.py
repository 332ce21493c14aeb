"""A changes cycle's rows (``crawler watch``): the parent's projects carried in one
statement, then the few list entries that moved, upserted page by page.

Part of :class:`~crawler.archive.index.Index`. A changes cycle never walks the
whole list, so the projects it does not hear about are the parent's, as the
parent had them (docs/ARCHIVE.md, "Changes cycles").
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import orjson

from crawler.archive.db import Database, require_row
from crawler.archive.schema import dumps_text, list_row, loads_text

__all__ = ["CarryRows"]

_SEED = (
    "INSERT OR IGNORE INTO snapshot_projects (snapshot_id, project_id, created_at, updated_at, "
    "organization_id, organization_uuid, user_id, user_email, deleted_at, list_entry, "
    "list_page, state, record_md5, record_sha256, record_size) "
    "SELECT ?, project_id, created_at, updated_at, organization_id, organization_uuid, user_id, "
    "user_email, deleted_at, list_entry, list_page, "
    # A finished project is carried, a gone one stays gone; anything else is fetched again.
    "CASE WHEN state IN ('done', 'carried') AND record_md5 IS NOT NULL THEN 'carried' "
    "WHEN state = 'gone' THEN 'gone' ELSE 'listed' END, record_md5, record_sha256, record_size "
    "FROM snapshot_projects WHERE snapshot_id = ?"
)
_UPDATE_ENTRY = (
    "UPDATE snapshot_projects SET created_at = ?, updated_at = ?, organization_id = ?, "
    "organization_uuid = ?, user_id = ?, user_email = ?, deleted_at = ?, list_entry = ?, "
    "list_page = ?, state = 'listed' WHERE snapshot_id = ? AND project_id = ?"
)
_INSERT_ENTRY = (
    "INSERT INTO snapshot_projects (snapshot_id, project_id, created_at, updated_at, "
    "organization_id, organization_uuid, user_id, user_email, deleted_at, list_entry, "
    "list_page, state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'listed')"
)


class CarryRows(Database):
    def seed_from_parent(
        self,
        snapshot_id: str,
        parent_id: str,
        refetch: Iterable[str],
        *,
        stats: dict[str, Any],
        feed_state: dict[str, Any],
    ) -> None:
        """The parent's rows as this snapshot's (``refetch`` set to be fetched again), its
        stats and its feed state saying so, in one transaction: a kill leaves all or none."""
        with self._tx() as c:
            c.execute(_SEED, (snapshot_id, parent_id))
            # A gone project added nothing to the totals: its fetch takes nothing back.
            c.executemany(
                "UPDATE snapshot_projects SET state = 'listed', "
                "record_md5 = IIF(state = 'gone', NULL, record_md5), "
                "record_sha256 = IIF(state = 'gone', NULL, record_sha256), "
                "record_size = IIF(state = 'gone', NULL, record_size) "
                "WHERE snapshot_id = ? AND project_id = ?",
                ((snapshot_id, pid) for pid in refetch),
            )
            cur = c.execute(
                "UPDATE snapshots SET stats = ? WHERE id = ?", (dumps_text(stats), snapshot_id)
            )
            require_row(cur, f"unknown snapshot {snapshot_id}")
            c.execute(
                "INSERT OR REPLACE INTO snapshot_feed (snapshot_id, state) VALUES (?, ?)",
                (snapshot_id, orjson.dumps(feed_state).decode()),
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
                if old is None:
                    c.execute(_INSERT_ENTRY, row)
                elif old[1] != "listed" and loads_text(old[0], "list entry") == entry:
                    continue  # the overlap re-listed an entry the parent has as it is
                else:
                    c.execute(_UPDATE_ENTRY, (*row[2:], snapshot_id, row[1]))
                changed.append(row[1])
        return changed

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

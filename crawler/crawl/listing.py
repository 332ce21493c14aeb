"""Step 3: the listing producer walks the project list into the bounded queue.

Each page is stored as a blob, and its projects and the ``created_at``
watermark are recorded in the index in one transaction, before the next page
is asked for. On resume the walk restarts at the watermark (page tokens may
have expired) and skips ids the snapshot already has; projects listed before
the interruption but not finished are queued first. In an incremental snapshot
a project whose list entry is unchanged is carried without a request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from crawler.api.endpoints import ComplianceApi
from crawler.archive import Archive, ProjectRow, SnapshotRow
from crawler.archive.records import Record
from crawler.canonical import canonical_json
from crawler.config import Settings
from crawler.crawl.bodies import fetch_json
from crawler.crawl.stats import RunStats
from crawler.crawl.work import Outcome, ProjectJob
from crawler.progress import Progress

__all__ = ["Listing"]


class Listing:
    """The producer: list pages in, project jobs out (or carried projects recorded)."""

    def __init__(
        self,
        api: ComplianceApi,
        archive: Archive,
        settings: Settings,
        stats: RunStats,
        progress: Progress,
        stopping: Callable[[], bool],
        parent: SnapshotRow | None,
    ) -> None:
        self.api = api
        self.archive = archive
        self.index = archive.index
        self.settings = settings
        self.stats = stats
        self.progress = progress
        self.stopping = stopping
        self.parent = parent

    async def produce(
        self, queue: asyncio.Queue[Any], snapshot: SnapshotRow, resumed: bool
    ) -> None:
        if resumed:
            # Projects listed before the interruption but not finished go first.
            for row in self.index.projects(snapshot.id, states=("listed", "failed", "partial")):
                if self.stopping():
                    return
                self.index.clear_failures(snapshot.id, row.project_id)
                replaces = self._contribution(row)
                await self._dispatch(queue, row.list_entry, row.list_page or {}, replaces)
        query = self.settings.filters.query()
        watermark = snapshot.watermark if resumed else None
        if watermark:
            # Restart the walk at the last stored created_at: ties are re-listed and
            # skipped by id, and no page token (which may have expired) is needed.
            query = [kv for kv in query if kv[0] != "created_at.gte"]
            query.append(("created_at.gte", watermark))
        if self.stopping():
            return
        async for page in self.api.projects_list(query):
            stored = await self.archive.blobs.put(page.fetched.body, "json")
            page_fetch = fetch_json(page.fetched, stored.ref)
            # The index says which ids are new to this snapshot (ties re-listed after a
            # resume are not), so no set of every id is held in memory.
            fresh = [e for e in page.items if isinstance(e, dict)]
            last_created = next(
                (str(e["created_at"]) for e in reversed(fresh) if e.get("created_at")), None
            )
            new_ids = set(
                self.index.record_list_page(
                    snapshot.id,
                    fresh,
                    watermark=last_created,
                    request_id=page.fetched.request_id,
                    page=page_fetch,
                )
            )
            self.progress.listed(len(new_ids))
            for entry in fresh:
                if entry.get("id") in new_ids:
                    await self._dispatch(queue, entry, page_fetch, {})
            if self.stopping():
                return

    def _contribution(self, row: ProjectRow) -> dict[str, int]:
        """What a partial project's earlier record already added to the totals."""
        if row.record is None:
            return {}
        return Record(self.archive.read_record(row.record)).totals()

    async def _dispatch(
        self,
        queue: asyncio.Queue[Any],
        entry: dict[str, Any],
        page_fetch: dict[str, Any],
        replaces: dict[str, int],
    ) -> None:
        """Carry an unchanged project (incremental), or queue it for a worker."""
        earlier = self._carry(entry)
        if earlier is None or earlier.record is None:
            await queue.put(ProjectJob(entry, page_fetch, replaces=replaces))
        elif not self.settings.refresh_collaborators or earlier.state == "gone":
            # A project that answered 404 stays gone while its entry is unchanged.
            state = "gone" if earlier.state == "gone" else "carried"
            totals = {} if state == "gone" else self._contribution(earlier)
            outcome = Outcome(state, earlier.record, [], totals=totals)
            self.stats.record(earlier.project_id, outcome, replaces)
            self.progress.project(state)
        else:
            # One collaborator walk decides: unchanged grants, carried; else fetched whole.
            await queue.put(
                ProjectJob(entry, page_fetch, earlier=earlier.record, replaces=replaces)
            )

    def _carry(self, entry: dict[str, Any]) -> ProjectRow | None:
        """Incremental: the earlier row of a project whose list entry is unchanged (see README)."""
        if self.parent is None:
            return None
        old = self.index.get_project(self.parent.id, str(entry["id"]))
        if old is None or old.state not in ("done", "carried", "gone") or old.record is None:
            return None
        if canonical_json(old.list_entry) != canonical_json(entry):
            return None
        return old

"""Step 3: the list walk records projects in the index; a feeder queues them from it.

The walk stores each page as a blob and records its projects and the
``created_at`` watermark in the index in one transaction, before the next page
is asked for. It never waits for a worker: the pages come one after another
(each needs the previous one's token), so at 100-400 ms a page the walk alone
cannot spend the budget, and the workers fetch side by side with it, fed by
the feeder from the index (the projects still to settle, in the order listed,
a batch at a time: memory stays flat). When the walk ends, the run's total is
known (for the progress ETA), long before the run's end.

On resume the walk restarts at the watermark (page tokens may have expired)
and skips ids the snapshot already has; projects listed before the
interruption but not finished are queued first. In an incremental snapshot a
project whose list entry is unchanged, and that the Activity Feed does not
name (``FeedVerdict``), is carried without a request.
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
from crawler.crawl.feed import FeedVerdict
from crawler.crawl.stats import RunStats
from crawler.crawl.work import Outcome, ProjectJob
from crawler.progress import Progress

__all__ = ["FEED_BATCH", "Listing"]

FEED_BATCH = 100  # projects read from the index at a time (one list page's worth)
# A project in these states still needs a worker this run (listed: never fetched).
_UNSETTLED = ("listed", "failed", "partial")


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
        feed: FeedVerdict | None = None,
    ) -> None:
        self.api = api
        self.archive = archive
        self.index = archive.index
        self.settings = settings
        self.stats = stats
        self.progress = progress
        self.stopping = stopping
        self.parent = parent
        self.feed = feed
        self._recorded = asyncio.Event()  # a page recorded, or the walk over: rows to feed
        self._walked = False

    async def produce(
        self, queue: asyncio.Queue[Any], snapshot: SnapshotRow, resumed: bool
    ) -> None:
        """Walk and feed side by side, until both are done; a failed walk raises here."""
        start = self.index.last_position()  # every row the walk adds comes after it
        earlier = self.index.count_projects(snapshot.id) if resumed else {}
        to_settle = sum(earlier.get(state, 0) for state in _UNSETTLED)
        walk = asyncio.create_task(self._walk(snapshot, resumed, to_settle), name="list-walk")
        feed = asyncio.create_task(self._feed(queue, snapshot, resumed, start), name="list-feed")
        try:
            await asyncio.wait((walk, feed), return_when=asyncio.FIRST_EXCEPTION)
            for task in (walk, feed):
                if task.done():
                    task.result()
        finally:
            for task in (walk, feed):
                task.cancel()
            await asyncio.gather(walk, feed, return_exceptions=True)

    async def _walk(self, snapshot: SnapshotRow, resumed: bool, to_settle: int) -> None:
        """Every list page, recorded before the next is asked for; then the run's total."""
        query = self.settings.filters.query()
        watermark = snapshot.watermark if resumed else None
        if watermark:
            # Restart the walk at the last stored created_at: ties are re-listed and
            # skipped by id, and no page token (which may have expired) is needed.
            query = [kv for kv in query if kv[0] != "created_at.gte"]
            query.append(("created_at.gte", watermark))
        try:
            if self.stopping():
                return
            async for page in self.api.projects_list(query):
                stored = await self.archive.blobs.put(page.fetched.body, "json")
                fresh = [e for e in page.items if isinstance(e, dict)]
                last_created = next(
                    (str(e["created_at"]) for e in reversed(fresh) if e.get("created_at")), None
                )
                # The index keeps only ids new to this snapshot (ties re-listed after a
                # resume are not), so no set of every id is held in memory.
                new_ids = self.index.record_list_page(
                    snapshot.id,
                    fresh,
                    watermark=last_created,
                    request_id=page.fetched.request_id,
                    page=fetch_json(page.fetched, stored.ref),
                )
                to_settle += len(new_ids)
                self.progress.listed(len(new_ids))
                self._recorded.set()
                if self.stopping():
                    return
            self.progress.listing_done(to_settle)
        finally:
            self._walked = True
            self._recorded.set()

    async def _feed(
        self, queue: asyncio.Queue[Any], snapshot: SnapshotRow, resumed: bool, start: int
    ) -> None:
        """The projects to settle, from the index, in the order listed."""
        if resumed:
            # Projects listed before the interruption but not finished go first.
            for row in self.index.projects(snapshot.id, states=_UNSETTLED):
                if self.stopping():
                    return
                self.index.clear_failures(snapshot.id, row.project_id)
                replaces = self._contribution(row)
                await self._dispatch(queue, row.list_entry, row.list_page or {}, replaces)
        position = start
        while not self.stopping():
            self._recorded.clear()
            walked = self._walked  # read before the rows: a page recorded after is seen next
            batch = self.index.listed_after(snapshot.id, position, FEED_BATCH)
            for at, row in batch:
                if self.stopping():
                    return
                position = at
                await self._dispatch(queue, row.list_entry, row.list_page or {}, {})
            if not batch:
                if walked:
                    return
                await self._recorded.wait()

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
        """Incremental: the earlier row of a project no change names (see README)."""
        if self.parent is None:
            return None
        if self.feed is not None and self.feed.fetch_whole(str(entry["id"])):
            return None  # the feed says it changed (or cannot say): fetch it whole
        old = self.index.get_project(self.parent.id, str(entry["id"]))
        if old is None or old.state not in ("done", "carried", "gone") or old.record is None:
            return None
        if canonical_json(old.list_entry) != canonical_json(entry):
            return None
        return old

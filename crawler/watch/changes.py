"""A changes cycle's listing: the parent carried, then only what moved (README, "Watching").

In place of the whole list walk (:class:`~crawler.crawl.listing.Listing`, which it
falls back to whenever the feed cannot be trusted or the snapshot began as a full
walk), it

1. carries the parent's rows into the snapshot in one transaction, the projects the
   feed names set to be fetched (``seed_from_parent``);
2. walks the list filtered by ``updated_at.gte`` = the parent's start less
   ``LIST_MARGIN``: a new or moved entry replaces the carried row;
3. queues every row left to fetch, with what its earlier record added to the totals.

Resumable: step 1 happened iff the feed state says ``cycle: changes``; step 2 is
idempotent; step 3 reads the rows still unsettled.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from crawler.archive import ProjectRow, SnapshotRow
from crawler.canonical import parse_instant, rfc3339
from crawler.crawl.bodies import fetch_json
from crawler.crawl.listing import Listing
from crawler.crawl.work import ProjectJob

__all__ = ["LIST_MARGIN", "ChangesListing"]

# Clocks differ: the filtered walk starts this much before the parent did. Re-listing an
# unchanged entry costs nothing (it is compared and carried).
LIST_MARGIN = timedelta(minutes=2)
_UNSETTLED = ("listed", "failed", "partial")


class ChangesListing(Listing):
    async def produce(
        self, queue: asyncio.Queue[Any], snapshot: SnapshotRow, resumed: bool
    ) -> None:
        state = self.index.feed_state(snapshot.id) or {}
        cycle = state.get("cycle")
        # Rows but no "changes" mark: a full walk was under way when the run was killed.
        begun_whole = cycle == "full_walk" or (
            resumed and cycle is None and bool(self.index.count_projects(snapshot.id))
        )
        if begun_whole or self.parent is None or self.feed is None or self.feed.mode != "read":
            state["cycle"] = "full_walk"
            self.index.save_feed_state(snapshot.id, state)
            await super().produce(queue, snapshot, resumed)
            return
        if state.get("cycle") != "changes":
            self._seed(snapshot, state)
        moved = await self._walk_moved(snapshot)
        await self._relist_named(snapshot, moved)
        await self._queue_unsettled(queue, snapshot)

    def _seed(self, snapshot: SnapshotRow, state: dict[str, Any]) -> None:
        assert self.parent is not None and self.feed is not None
        parent_totals = (self.parent.stats or {}).get("totals")
        if isinstance(parent_totals, dict):
            self.stats.totals = {k: int(parent_totals.get(k, 0)) for k in self.stats.totals}
        state["cycle"] = "changes"
        self.index.seed_from_parent(
            snapshot.id,
            self.parent.id,
            self.feed.touched,
            stats=self.stats.current(None),
            feed_state=state,
        )

    async def _walk_moved(self, snapshot: SnapshotRow) -> set[str]:
        """Step 2: the entries whose ``updated_at`` moved since the parent; their ids."""
        assert self.parent is not None
        since = parse_instant(self.parent.started_at) - LIST_MARGIN
        query = [kv for kv in self.settings.filters.query() if kv[0] != "updated_at.gte"]
        query.append(("updated_at.gte", rfc3339(since)))
        return await self._walk_query(snapshot, query)

    async def _relist_named(self, snapshot: SnapshotRow, seen: set[str]) -> None:
        """A project the feed names but whose ``updated_at`` did not move can still have a
        new list entry (a sharing change moves ``is_private``): list it again, by its
        ``created_at`` (one page, one request), so its record holds the entry as it is."""
        base = [kv for kv in self.settings.filters.query() if not kv[0].startswith("created_at")]
        for row in list(self.index.projects(snapshot.id, states=("listed",))):
            if row.project_id in seen or not row.created_at or self.stopping():
                continue
            query = [*base, ("created_at.gte", row.created_at), ("created_at.lte", row.created_at)]
            seen |= await self._walk_query(snapshot, query)

    async def _walk_query(self, snapshot: SnapshotRow, query: list[tuple[str, str]]) -> set[str]:
        ids: set[str] = set()
        if self.stopping():
            return ids
        async for page in self.api.projects_list(query):
            stored = await self.archive.blobs.put(page.fetched.body, "json")
            entries = [e for e in page.items if isinstance(e, dict)]
            moved = self.index.upsert_list_page(
                snapshot.id,
                entries,
                request_id=page.fetched.request_id,
                page=fetch_json(page.fetched, stored.ref),
            )
            ids |= {str(e.get("id")) for e in entries}
            self.progress.listed(len(moved))
            if self.stopping():
                break
        return ids

    async def _queue_unsettled(self, queue: asyncio.Queue[Any], snapshot: SnapshotRow) -> None:
        rows = list(self.index.projects(snapshot.id, states=_UNSETTLED))
        self.progress.listing_done(len(rows))
        for row in rows:
            if self.stopping():
                return
            self.index.clear_failures(snapshot.id, row.project_id)
            await self._dispatch_fetch(queue, row)

    async def _dispatch_fetch(self, queue: asyncio.Queue[Any], row: ProjectRow) -> None:
        replaces = self._contribution(row)
        await queue.put(ProjectJob(row.list_entry, row.list_page or {}, replaces=replaces))

"""Step 2b: read the Activity Feed for a snapshot, so an incremental misses nothing.

Owner of the snapshot's feed state (``crawler.archive.feedlog``). What the
window is and what an event touches is ``feed_plan``; this module does the I/O:

* ``begin`` (before a new snapshot is created) decides the mode and, when the
  feed is to be read, asks for its first page, so a key without the scope is
  found out before anything is written (``--require-feed`` then stops, exit 2);
* ``start`` records that decision with the new snapshot, ``read_rest`` reads
  the remaining pages (each stored as a blob, then its events and the cursor
  past them in one index transaction: a resume continues at the cursor);
* ``touched`` says which projects to fetch whole, and why.

Modes (the manifest's ``feed.status``): ``full`` (a full snapshot: no read, its
start is the next position), ``read`` (an incremental read the window),
``no_position`` (an incremental without a usable position: it fetches every
project and becomes the next position), ``unavailable`` (the key lacks the
scope: carried as before, by list entry alone; no position).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from crawler.api.activities import ActivityPage, activities_page
from crawler.api.client import FEED_SCOPE, ComplianceClient
from crawler.archive import Archive
from crawler.archive.feedlog import FeedLog
from crawler.archive.index import SnapshotRow
from crawler.crawl.feed_plan import (
    Digest,
    FeedPosition,
    NoPosition,
    Window,
    plan_window,
)
from crawler.errors import ScopeError
from crawler.fetcher import fetch_json

UNAVAILABLE_COST = (
    f"the access key lacks the scope {FEED_SCOPE}: the activity feed cannot be read, so "
    "projects whose list entry is unchanged are carried even if a document was replaced, "
    "uploaded or deleted or a collaborator granted or revoked since the last snapshot "
    f"(use a key with {FEED_SCOPE}, or take a full snapshot)"
)


class FeedRequiredError(ScopeError):
    """``--require-feed`` and the key cannot read the feed: nothing is written."""


@dataclass
class FeedStart:
    """What ``begin`` decided, and the first page when it read one."""

    state: dict[str, Any]
    first: ActivityPage | None = None
    notes: list[str] = field(default_factory=list)


def _now() -> datetime:
    return datetime.now(UTC)


class FeedStep:
    def __init__(
        self,
        client: ComplianceClient,
        archive: Archive,
        *,
        organization_ids: tuple[str, ...] = (),
        settle_seconds: float,
        overlap_seconds: float,
        require: bool = False,
    ) -> None:
        self.client = client
        self.archive = archive
        self.log = FeedLog(archive.index)
        self.organization_ids = organization_ids
        self.settle_seconds = settle_seconds
        self.overlap_seconds = overlap_seconds
        self.require = require

    # -- deciding ------------------------------------------------------------------------

    async def begin(self, parent: SnapshotRow | None, started_at: str) -> FeedStart:
        """The mode of a snapshot about to start (or restart its feed read)."""
        if parent is None:
            start = FeedStart({"status": "full", "position": _position(started_at, read=False)})
            if self.require:
                # A full snapshot reads nothing, but --require-feed promises the next
                # incremental can: one probe now, before anything is written.
                await self._probe(Window(gte=started_at, lt=started_at))
            return start
        parent_state = self.log.state(parent.id) or {}
        planned = plan_window(
            FeedPosition.from_json(parent_state.get("position")),
            _now(),
            settle_seconds=self.settle_seconds,
            overlap_seconds=self.overlap_seconds,
        )
        if isinstance(planned, NoPosition):
            # A probe tells "fetch everything" (readable feed) from "carry as before".
            try:
                await self._probe(Window(gte=started_at, lt=started_at))
            except ScopeError as err:
                return self._unavailable(err)
            state: dict[str, Any] = {
                "status": "no_position",
                "reason": planned.reason,
                "position": _position(started_at, read=False),
            }
            return FeedStart(state, notes=[f"{planned.reason}: fetching every project"])
        try:
            first = await self._page(planned, None) if not planned.empty else None
        except ScopeError as err:
            return self._unavailable(err)
        state = {
            "status": "read",
            "window": planned.to_json(),
            "position": _position(planned.lt, read=True),
            "parent_position": parent_state.get("position"),
            "cursor": None,
            "done": first is None,
            "pages": [],
        }
        return FeedStart(state, first=first)

    def _unavailable(self, err: ScopeError) -> FeedStart:
        if self.require:
            raise FeedRequiredError(
                f"--require-feed: {UNAVAILABLE_COST}", request_id=err.request_id, status=err.status
            ) from err
        state = {
            "status": "unavailable",
            "missing_scope": FEED_SCOPE,
            "reason": UNAVAILABLE_COST,
            "request_id": err.request_id,
        }
        return FeedStart(state, notes=[UNAVAILABLE_COST])

    async def _probe(self, window: Window) -> None:
        """One cheapest request: does this key read the feed? (ScopeError if not.)"""
        await activities_page(self.client, window.query(self.organization_ids), None, limit=1)

    async def _page(self, window: Window, after_id: str | None) -> ActivityPage:
        return await activities_page(self.client, window.query(self.organization_ids), after_id)

    # -- reading -------------------------------------------------------------------------

    async def start(self, snapshot: SnapshotRow, begun: FeedStart) -> None:
        """Record the decision with the (new) snapshot; store the first page if one was read."""
        state = dict(begun.state)
        self.log.save_state(snapshot.id, state)
        if begun.first is not None:
            await self._store(snapshot, state, begun.first)

    async def read_rest(self, snapshot: SnapshotRow, stopping: Any = None) -> dict[str, Any]:
        """Read the pages after the stored cursor until the window is exhausted."""
        state = self.log.state(snapshot.id) or {}
        while state.get("status") == "read" and not state.get("done"):
            if stopping is not None and stopping():
                break
            window = Window(
                gte=state["window"]["created_at_gte"], lt=state["window"]["created_at_lt"]
            )
            page = await self._page(window, state.get("cursor"))
            await self._store(snapshot, state, page)
        return state

    async def _store(
        self, snapshot: SnapshotRow, state: dict[str, Any], page: ActivityPage
    ) -> None:
        """The page's blob, then its events and the cursor past them (one transaction)."""
        stored = await self.archive.blobs.put(page.fetched.body, "json")
        digest = Digest(already_seen=self._seen(snapshot, state))
        events = digest.events(page.items)
        state["pages"] = [*state.get("pages", []), fetch_json(page.fetched, stored.ref)]
        if page.last_id is not None:
            state["cursor"] = page.last_id
        state["done"] = not page.has_more or page.last_id is None
        self.log.add_page(snapshot.id, events, state)

    def _seen(self, snapshot: SnapshotRow, state: dict[str, Any]) -> set[str]:
        """Ids already read: by the parent (the overlap) and by this read's earlier pages."""
        seen = self.log.seen_ids(snapshot.id)
        if snapshot.parent_id and state.get("status") == "read":
            seen |= self.log.seen_ids(snapshot.parent_id)
        return seen

    # -- using ---------------------------------------------------------------------------

    def touched(self, snapshot_id: str) -> dict[str, list[str]]:
        return self.log.touched(snapshot_id)

    def summary(self, snapshot_id: str) -> dict[str, Any]:
        """The manifest's ``feed``: mode, window, cursor, position, events, pages."""
        state = dict(self.log.state(snapshot_id) or {"status": "none"})
        state.pop("done", None)
        if state.get("status") == "read":
            state["events"] = self.log.count(snapshot_id)
            state["projects"] = len(self.log.touched(snapshot_id))
        return state


def _position(until: str, *, read: bool) -> dict[str, Any]:
    return FeedPosition(until=until, read=read).to_json()


__all__ = ["UNAVAILABLE_COST", "FeedRequiredError", "FeedStart", "FeedStep"]

"""Step 2b: read the Activity Feed for a snapshot, so an incremental misses nothing.

Owner of the snapshot's feed state (``crawler.archive.feed_rows``). What the
window is and what an event touches is ``feed_plan``; this module does the I/O:

* ``begin`` (before a new snapshot is created) decides the mode and, when the
  feed is to be read, asks for its first page, so a key without the scope is
  found out before anything is written (``--require-feed`` then stops, exit 2);
* ``start`` records that decision with the new snapshot, ``read_rest`` reads
  the remaining pages (each stored as a blob, then its events and the cursor
  past them in one index transaction: a resume continues at the cursor);
* the ``FeedVerdict`` it returns says which projects to fetch whole, and
  which events named them (the manifest's ``projects[].why``).

Modes (the manifest's ``feed.status``): ``full`` (a full snapshot: no read, its
start is the next position), ``read`` (an incremental read the window),
``no_position`` (an incremental without a usable position: it fetches every
project and becomes the next position), ``unavailable`` (the key lacks the
scope: carried as before, by list entry alone; no position).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from crawler.api.endpoints import ComplianceApi
from crawler.api.failures import FEED_SCOPE
from crawler.api.model import Page
from crawler.archive import Archive, SnapshotRow
from crawler.canonical import parse_instant, rfc3339
from crawler.crawl.bodies import fetch_json
from crawler.crawl.feed_plan import (
    Digest,
    FeedPosition,
    NoPosition,
    Window,
    plan_window,
)
from crawler.errors import FeedRequiredError, ScopeError

__all__ = ["UNAVAILABLE_COST", "FeedStart", "FeedStep", "FeedVerdict"]

UNAVAILABLE_COST = (
    f"the access key lacks the scope {FEED_SCOPE}: the activity feed cannot be read, so "
    "projects whose list entry is unchanged are carried even if a document was replaced, "
    "uploaded or deleted or a collaborator granted or revoked since the last snapshot "
    f"(use a key with {FEED_SCOPE}, or take a full snapshot)"
)


@dataclass
class FeedStart:
    """What ``begin`` decided, and the first page when it read one."""

    state: dict[str, Any]
    first: Page | None = None
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class FeedVerdict:
    """What the listing needs: which projects the feed says to fetch whole."""

    mode: str  # full | read | no_position | unavailable
    touched: dict[str, list[str]] = field(default_factory=dict)  # project id -> activity ids

    def fetch_whole(self, project_id: str) -> bool:
        """Never carry this project: the feed named it, or there is no usable position."""
        return self.mode == "no_position" or project_id in self.touched


def _now() -> datetime:
    return datetime.now(UTC)


def _position(until: str, *, read: bool) -> dict[str, Any]:
    return FeedPosition(until=until, read=read).to_json()


class FeedStep:
    def __init__(
        self,
        api: ComplianceApi,
        archive: Archive,
        *,
        organization_ids: tuple[str, ...] = (),
        settle_seconds: float,
        overlap_seconds: float,
        require: bool = False,
        extra_types: tuple[str, ...] = (),
    ) -> None:
        self.api = api
        self.extra_types = extra_types  # crawler watch: API_ACCESSED too
        self.archive = archive
        self.index = archive.index
        self.organization_ids = organization_ids
        self.settle_seconds = settle_seconds
        self.overlap_seconds = overlap_seconds
        self.require = require
        self.notes: list[str] = []  # what the run says once (no scope, no position)
        self._seen_ids: tuple[str, set[str]] | None = None  # (snapshot id, activity ids read)

    # -- deciding ------------------------------------------------------------------------

    async def begin(self, parent: SnapshotRow | None, started_at: str) -> FeedStart:
        """The mode of a snapshot about to start (or restart its feed read)."""
        if parent is None:
            position = self._full_position(started_at)
            start = FeedStart({"status": "full", "position": position})
            if self.require:
                # A full snapshot reads nothing, but --require-feed promises the next
                # incremental can: one probe now, before anything is written.
                await self._probe(started_at)
            return start
        parent_state = self.index.feed_state(parent.id) or {}
        planned = plan_window(
            FeedPosition.from_json(parent_state.get("position")),
            _now(),
            settle_seconds=self.settle_seconds,
            overlap_seconds=self.overlap_seconds,
        )
        try:
            if isinstance(planned, NoPosition):
                # A probe tells "fetch everything" (readable feed) from "carry as before".
                await self._probe(started_at)
                state: dict[str, Any] = {
                    "status": "no_position",
                    "reason": planned.reason,
                    "position": self._full_position(started_at),
                }
                return FeedStart(state, notes=[f"{planned.reason}: fetching every project"])
            query = planned.query(self.organization_ids, self.extra_types)
            first = None if planned.empty else await self.api.activities_page(query, None)
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

    def _full_position(self, started_at: str) -> dict[str, Any]:
        """Where the next incremental starts after a snapshot that fetched every project.

        Its start, less the settle margin: every change before it is in the data, but
        the feed's clock and ours may differ by a little, and re-reading that minute
        costs at most a refetch of what changed in it, never a miss.
        """
        until = parse_instant(started_at) - timedelta(seconds=self.settle_seconds)
        return _position(rfc3339(until), read=False)

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

    async def _probe(self, at: str) -> None:
        """The cheapest request (an empty window): can this key read the feed?"""
        window = Window(gte=at, lt=at)
        await self.api.activities_page(window.query(self.organization_ids), None, limit=1)

    # -- reading -------------------------------------------------------------------------

    async def start(self, snapshot: SnapshotRow, begun: FeedStart) -> None:
        """Record the decision with the (new) snapshot; store the first page if one was read."""
        state = dict(begun.state)
        self.index.save_feed_state(snapshot.id, state)
        self.notes += begun.notes
        if begun.first is not None:
            await self._store(snapshot, state, begun.first)

    async def resume(self, snapshot: SnapshotRow, parent: SnapshotRow | None) -> None:
        """A snapshot started before the feed was read (no state yet) decides now."""
        if self.index.feed_state(snapshot.id) is None:
            await self.start(snapshot, await self.begin(parent, snapshot.started_at))

    async def read_rest(
        self, snapshot: SnapshotRow, stopping: Callable[[], bool] = lambda: False
    ) -> FeedVerdict:
        """Read the pages after the stored cursor until the window is exhausted."""
        state = self.index.feed_state(snapshot.id) or {}
        if state.get("status") == "read" and not state.get("done") and not stopping():
            window = Window(
                gte=state["window"]["created_at_gte"], lt=state["window"]["created_at_lt"]
            )
            query = window.query(self.organization_ids, self.extra_types)
            walk = self.api.activities(query, state.get("cursor"))
            async for page in walk:  # the next page is asked for only once this one is stored
                await self._store(snapshot, state, page)
                if state["done"] or stopping():
                    break
        return FeedVerdict(str(state.get("status", "full")), self.index.feed_touched(snapshot.id))

    def finished(self, snapshot_id: str) -> bool:
        state = self.index.feed_state(snapshot_id) or {}
        return state.get("status") != "read" or bool(state.get("done"))

    async def _store(self, snapshot: SnapshotRow, state: dict[str, Any], page: Page) -> None:
        """The page's blob, then its events and the cursor past them (one transaction)."""
        stored = await self.archive.blobs.put(page.fetched.body, "json")
        # A copy: the ids become "seen" only once the page's transaction has committed.
        digest = Digest(already_seen=set(self._seen(snapshot)))
        events = digest.events(page.items)
        state["pages"] = [*state.get("pages", []), fetch_json(page.fetched, stored.ref)]
        last_id = page.fetched.json().get("last_id")
        if isinstance(last_id, str) and last_id:
            state["cursor"] = last_id
        state["done"] = page.next_page is None
        self.index.add_feed_page(snapshot.id, events, state)
        self._seen_ids = (snapshot.id, digest.already_seen)

    def _seen(self, snapshot: SnapshotRow) -> set[str]:
        """Ids already read: by the parent (the overlap) and by this read's earlier pages.

        Loaded from the index once per read (a resumed run included), then kept.
        """
        if self._seen_ids is not None and self._seen_ids[0] == snapshot.id:
            return self._seen_ids[1]
        seen = self.index.feed_seen_ids(snapshot.id)
        if snapshot.parent_id:
            seen |= self.index.feed_seen_ids(snapshot.parent_id)
        return seen

    # -- reporting -----------------------------------------------------------------------

    def summary(self, snapshot_id: str) -> dict[str, Any]:
        """The manifest's ``feed``: mode, window, cursor, position, events, pages."""
        state = dict(self.index.feed_state(snapshot_id) or {"status": "none"})
        state.pop("done", None)
        if state.get("status") == "read":
            state["events"] = self.index.feed_event_counts(snapshot_id)
            state["projects"] = len(self.index.feed_touched(snapshot_id))
        return state

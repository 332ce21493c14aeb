"""The Activity Feed's part in an incremental snapshot: which window to read, what it touched.

Pure logic, no I/O (the reading is ``crawler.crawl.feed``; what one event means,
kept or not and which project it names, is ``crawler.archive.feed_digest``, which a
cache rebuilt from a bucket replays too; re-exported here). API.md, "The Activity
Feed": delivery is at least once, late rows happen (an event can become visible
after a reader's ``after_id`` cursor has passed its ``created_at``), and poll
windows should end at least a minute in the past. So:

* every snapshot records a *position*: the instant before which every change is
  either in the snapshot's data (a full snapshot fetched every project after it
  started) or was read from the feed and acted on (an incremental);
* the next incremental reads ``created_at.gte`` = that position (a full parent),
  or that position minus an *overlap* (an incremental parent: late rows land
  there), up to ``created_at.lt`` = now minus the *settle* margin;
* events the parent already read (its ids) are deduplicated, so re-reading the
  overlap costs feed pages only, never a project fetch;
* a window reaching back further than the feed keeps, or a parent without a
  position (an archive made before this feature, or one taken without the
  scope), is no position at all: that run fetches every project.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from crawler.archive.feed_digest import (
    API_ACCESSED,
    Digest,
    SeenEvent,
    api_deleted_project,
    kept,
    touched_project,
)
from crawler.canonical import parse_instant, rfc3339
from crawler.config import DEFAULT_FEED_OVERLAP_SECONDS, DEFAULT_FEED_SETTLE_SECONDS

# "retained for six years": a window starting earlier may have lost events.
RETENTION = timedelta(days=6 * 365)

# Every event type that changes what a project's fetch returns. Asked for by name
# (activity_types[]): our own compliance_api_accessed events, one per request, and
# the read-only *_viewed events never cost a page.
PROJECT_CHANGE_TYPES: tuple[str, ...] = (
    "claude_project_created",
    "claude_project_deleted",
    "claude_project_archived",
    "claude_project_sharing_updated",
    "claude_project_document_uploaded",
    "claude_project_document_updated",
    "claude_project_document_deleted",
    "claude_project_file_uploaded",
    "claude_project_file_deleted",
    "claude_project_document_bulk_deletion_audit_truncated",
    "claude_project_file_bulk_deletion_audit_truncated",
    "role_assignment_granted",
    "role_assignment_revoked",
)


@dataclass(frozen=True)
class FeedPosition:
    """Where the next incremental starts reading (recorded by every snapshot).

    ``until``: every change created before it is in this snapshot's data or was
    read and acted on. ``read``: the snapshot read the feed up to ``until`` (an
    incremental), so rows arriving late behind it are re-read through the overlap.
    """

    until: str
    read: bool

    def to_json(self) -> dict[str, Any]:
        return {"until": self.until, "read": self.read}

    @classmethod
    def from_json(cls, doc: Any) -> FeedPosition | None:
        if not isinstance(doc, Mapping) or not isinstance(doc.get("until"), str):
            return None
        try:
            parse_instant(doc["until"])
        except ValueError:
            return None
        return cls(until=doc["until"], read=bool(doc.get("read")))


@dataclass(frozen=True)
class Window:
    """``created_at.gte`` .. ``created_at.lt`` of one feed read; windows tile without gaps."""

    gte: str
    lt: str

    @property
    def empty(self) -> bool:
        return parse_instant(self.lt) <= parse_instant(self.gte)

    def query(
        self, organization_ids: Iterable[str] = (), extra_types: Iterable[str] = ()
    ) -> list[tuple[str, str]]:
        """Filters of the read (without ``limit``/``after_id``, which the paginator adds)."""
        q = [("activity_types[]", t) for t in (*PROJECT_CHANGE_TYPES, *extra_types)]
        q += [("organization_ids[]", o) for o in organization_ids]
        q += [("created_at.gte", self.gte), ("created_at.lt", self.lt), ("order", "asc")]
        return q

    def to_json(self) -> dict[str, str]:
        return {"created_at_gte": self.gte, "created_at_lt": self.lt}


@dataclass(frozen=True)
class NoPosition:
    """Why this incremental cannot trust the feed: it fetches every project."""

    reason: str


def plan_window(
    parent: FeedPosition | None,
    now: datetime,
    *,
    settle_seconds: float = DEFAULT_FEED_SETTLE_SECONDS,
    overlap_seconds: float = DEFAULT_FEED_OVERLAP_SECONDS,
) -> Window | NoPosition:
    """The window an incremental reads after ``parent``, or why there is none."""
    if parent is None:
        return NoPosition(
            "the previous snapshot recorded no feed position (taken before the feed was "
            "read, or without its scope)"
        )
    until = parse_instant(parent.until)
    start = until - timedelta(seconds=overlap_seconds) if parent.read else until
    if start < now - RETENTION:
        return NoPosition(
            f"the previous snapshot's feed position {parent.until} is older than the feed "
            "keeps (six years)"
        )
    # Never end before the parent's position: the next position must not go backwards.
    end = max(now - timedelta(seconds=settle_seconds), until)
    return Window(gte=rfc3339(start), lt=rfc3339(end))


def reasons_json(list_reason: str | None, activity_ids: Iterable[str]) -> dict[str, Any]:
    """Why an incremental fetched a project whole (the manifest's ``why``)."""
    out: dict[str, Any] = {}
    if list_reason is not None:
        out["list_entry"] = list_reason  # "new" or "changed"
    ids = sorted(set(activity_ids))
    if ids:
        out["activities"] = ids
    return out


__all__ = [
    "API_ACCESSED",
    "PROJECT_CHANGE_TYPES",
    "Digest",
    "FeedPosition",
    "NoPosition",
    "SeenEvent",
    "Window",
    "api_deleted_project",
    "kept",
    "plan_window",
    "reasons_json",
    "touched_project",
]

"""What an Activity Feed event means for the archive: kept or not, which project, acted on.

Pure logic, no I/O, shared by the crawl's feed read (``crawler.crawl.feed``) and
the rebuild of a bucket's cache (``crawler.archive.rebuild_feed``): the rows of
``feed_events`` are a function of a snapshot's raw feed pages (blobs its manifest
names) and of the ids its parent read, so a cache rebuilt from the bucket holds
the same rows as the one the crawl wrote (docs/ARCHIVE.md, "The local cache").
A change here changes what a rebuild derives from pages read before it: it is
part of the format.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

ROLE_TYPES = frozenset({"role_assignment_granted", "role_assignment_revoked"})
# Types that name a project but change nothing: ignored if the server sends them anyway.
NO_CHANGE_TYPES = frozenset({"claude_project_viewed", "claude_project_document_viewed"})
# One per Compliance API request: only a project DELETE names a change (the project
# vanishes with no other event). ``crawler watch`` asks for them; the rest are skipped.
API_ACCESSED = "compliance_api_accessed"
PROJECT_ID_PREFIX = "claude_proj_"
_PROJECTS_PATH = "/apps/projects/"


def touched_project(event: Mapping[str, Any]) -> str | None:
    """The project an event says changed, or None (not a project change)."""
    kind = event.get("type")
    if kind in ROLE_TYPES:
        # role_assignment_* has no claude_project_id: its resource_id names the project.
        rid = event.get("resource_id")
        if isinstance(rid, str) and rid.startswith(PROJECT_ID_PREFIX):
            return rid
        return None
    if kind == API_ACCESSED:
        return api_deleted_project(event)
    if kind in NO_CHANGE_TYPES:
        return None
    pid = event.get("claude_project_id")
    # Unknown types that name a project count as a change: a wasted fetch at worst.
    return pid if isinstance(pid, str) and pid else None


def api_deleted_project(event: Mapping[str, Any]) -> str | None:
    """The project a ``compliance_api_accessed`` DELETE names (whatever it answered:
    the fetch that follows says whether the project is gone), else None."""
    url = event.get("url")
    if event.get("request_method") != "DELETE" or not isinstance(url, str):
        return None
    _, found, rest = url.partition(_PROJECTS_PATH)
    pid = rest.split("?", 1)[0].rstrip("/")
    if found and pid.startswith(PROJECT_ID_PREFIX) and "/" not in pid:
        return pid
    return None


def kept(event: Mapping[str, Any]) -> bool:
    """Our own traffic (every request but a project DELETE) is not worth an index row;
    its page is kept whole as a blob like every response."""
    return event.get("type") != API_ACCESSED or api_deleted_project(event) is not None


@dataclass(frozen=True)
class SeenEvent:
    """One event of a read, as the index keeps it."""

    activity_id: str
    project_id: str | None
    type: str | None
    created_at: str | None
    acted: bool  # False: the parent read it already (overlap), or a repeat in this read
    event: Mapping[str, Any]
    # Read before (the overlap): the index keeps its id only, its JSON is where it was
    # first read (and in this read's raw page blob).
    repeat: bool = False


@dataclass
class Digest:
    """Deduplicates the events of one read by id and says which projects they touch."""

    already_seen: set[str] = field(default_factory=set)  # ids the parent read

    def events(self, page: Iterable[Any]) -> list[SeenEvent]:
        out: list[SeenEvent] = []
        for event in page:
            if not isinstance(event, Mapping) or not isinstance(event.get("id"), str):
                continue  # no id: nothing to deduplicate on, nothing to cite
            if not kept(event):
                continue
            aid = event["id"]
            repeat = aid in self.already_seen
            self.already_seen.add(aid)
            pid = touched_project(event)
            created = event.get("created_at")
            kind = event.get("type")
            out.append(
                SeenEvent(
                    activity_id=aid,
                    project_id=pid,
                    type=kind if isinstance(kind, str) else None,
                    created_at=created if isinstance(created, str) else None,
                    acted=not repeat and pid is not None,
                    event=event,
                    repeat=repeat,
                )
            )
        return out


__all__ = [
    "API_ACCESSED",
    "NO_CHANGE_TYPES",
    "PROJECT_ID_PREFIX",
    "ROLE_TYPES",
    "Digest",
    "SeenEvent",
    "api_deleted_project",
    "kept",
    "touched_project",
]

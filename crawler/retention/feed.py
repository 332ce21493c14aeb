"""The Activity Feed as a change detector: did anything happen to an item after its snapshot?

Optional by design: a key without ``read:compliance_activities`` gets a 403,
and the plan then says ``feed: unavailable`` and rests on the fresh read
alone. One walk covers every candidate (from the oldest snapshot time among
them); :meth:`FeedWatch.refresh` continues it with ``after_id`` so that
``apply`` can look again just before each delete for one request.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

from crawler.api.endpoints import ComplianceApi
from crawler.canonical import instant_or_none
from crawler.crawl.feed_plan import PROJECT_CHANGE_TYPES, touched_project
from crawler.errors import GoneError, ScopeError

REFRESH_SECONDS = 20.0


def changes_after(
    events: Iterable[Mapping[str, Any]],
    since: str | None,
    *,
    project_id: str,
    document_id: str | None = None,
) -> list[str]:
    """Events after ``since`` that change the project (or, given, that one document).

    A document is changed by its own events and by a bulk deletion too large to
    list (which names no ids). Unknown times count as after: unknown is not unchanged.
    """
    start = instant_or_none(since)
    out: list[str] = []
    for e in events:
        if touched_project(e) != project_id:
            continue
        etype = str(e.get("type"))
        if document_id is not None:
            own = e.get("claude_project_document_id") == document_id
            if not own and not etype.endswith("bulk_deletion_audit_truncated"):
                continue
        when = instant_or_none(e.get("created_at"))
        if start is not None and when is not None and when <= start:
            continue
        out.append(f"{etype} at {e.get('created_at')} ({e.get('id')})")
    return out


class FeedWatch:
    """The feed since a point in time, refreshed cheaply; ``available`` False without scope."""

    def __init__(self, api: ComplianceApi, since: str | None) -> None:
        self.api = api
        self.since = since
        self.events: dict[str, dict[str, Any]] = {}
        self.available = since is not None
        self.status = "not needed" if since is None else "not read"
        self._last_id: str | None = None
        self._read_at = 0.0

    async def load(self) -> None:
        if not self.available or self.since is None:
            return
        try:
            await self._walk(self.since)
        except ScopeError:
            self.available = False
            self.status = "unavailable: the read key lacks read:compliance_activities"
            return
        except GoneError as exc:  # a service (or simulator) without the feed
            self.available = False
            self.status = f"unavailable: {exc.status} from the feed endpoint"
            return
        self._read_at = time.monotonic()
        self.status = "checked"

    async def _walk(self, since: str) -> None:
        """Project-change events created at or after ``since``, oldest first, after the last look."""
        query = [("activity_types[]", t) for t in PROJECT_CHANGE_TYPES]
        query += [("created_at.gte", since), ("order", "asc")]
        async for page in self.api.activities(query, self._last_id):
            for e in page.items:
                if isinstance(e, dict) and isinstance(e.get("id"), str):
                    self.events[e["id"]] = e  # at-least-once delivery: dedupe by id
            last = page.fetched.json().get("last_id")
            if isinstance(last, str) and last:
                self._last_id = last

    async def refresh(self) -> None:
        """Look again if the last look is older than REFRESH_SECONDS."""
        if self.available and time.monotonic() - self._read_at > REFRESH_SECONDS:
            await self.load()

    def changes(
        self, since: str | None, project_id: str, document_id: str | None = None
    ) -> list[str]:
        return changes_after(
            self.events.values(), since, project_id=project_id, document_id=document_id
        )

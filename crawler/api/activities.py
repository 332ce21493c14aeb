"""``GET /v1/compliance/activities``: the Activity Feed, one page at a time.

The feed paginates by id, not by page token (API.md, "The Activity Feed"):
``{data, first_id, last_id, has_more}``, continued with ``after_id=<last_id>``
in the order asked for. The caller stores each page before asking for the next.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from crawler.api.client import API_PREFIX, FEED_SCOPE, ComplianceClient, Fetched
from crawler.errors import BadResponseError

ACTIVITIES = f"{API_PREFIX}/activities"
ENDPOINT = "activities"
MAX_LIMIT = 5000

__all__ = ["ACTIVITIES", "ENDPOINT", "FEED_SCOPE", "MAX_LIMIT", "ActivityPage", "activities_page"]


@dataclass(frozen=True)
class ActivityPage:
    items: list[dict[str, Any]]
    first_id: str | None
    last_id: str | None
    has_more: bool
    fetched: Fetched


def _check(fetched: Fetched) -> None:
    """A page is {data: [objects], has_more: bool, last_id: str (when has_more)}; else retry."""
    doc = fetched.json()
    problem: str | None = None
    if not isinstance(doc, dict):
        problem = "not a JSON object"
    elif not isinstance(doc.get("data"), list):
        problem = "'data' is not a list"
    elif not all(isinstance(item, dict) for item in doc["data"]):
        problem = "'data' holds a non-object"
    elif not isinstance(doc.get("has_more", False), bool):
        problem = "'has_more' is not a boolean"
    elif doc.get("has_more") and not (isinstance(doc.get("last_id"), str) and doc["last_id"]):
        # Stopping here would silently lose the rest of the feed.
        problem = "'has_more' is true but 'last_id' is missing"
    if problem is not None:
        raise BadResponseError(
            f"{fetched.endpoint} {fetched.method} {fetched.path}: malformed page: {problem}",
            request_id=fetched.request_id,
            status=fetched.status,
        )


async def activities_page(
    client: ComplianceClient,
    query: Sequence[tuple[str, str]],
    after_id: str | None,
    limit: int = MAX_LIMIT,
) -> ActivityPage:
    """One page of the feed; ``after_id`` continues after a stored page's ``last_id``."""
    full = [*query, ("limit", str(limit))]
    if after_id is not None:
        full.append(("after_id", after_id))
    fetched = await client.get_json(ENDPOINT, ACTIVITIES, full, validate=_check)
    doc = fetched.json()
    first, last = doc.get("first_id"), doc.get("last_id")
    return ActivityPage(
        items=doc["data"],
        first_id=first if isinstance(first, str) else None,
        last_id=last if isinstance(last, str) else None,
        has_more=bool(doc.get("has_more", False)),
        fetched=fetched,
    )

"""The endpoints retention speaks: fresh reads, the Activity Feed, and the two DELETEs.

One typed call per endpoint; only this package spells a path. Reads go
through the read key's client, deletes through the delete key's (see
``crawler.retention.apply``): nothing here decides which.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from crawler.api.client import API_PREFIX, ComplianceClient, Fetched
from crawler.api.retry import RetryPolicy
from crawler.errors import BadResponseError, RateLimitedError, RejectedError

PROJECTS = f"{API_PREFIX}/apps/projects"
DOCUMENTS = f"{API_PREFIX}/apps/projects/documents"
ACTIVITIES = f"{API_PREFIX}/activities"
PAGE_LIMIT = 100
FEED_LIMIT = 5000

# The feed's project-change events (API.md): reads and our own API calls are not changes.
CHANGE_EVENTS = (
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


def _seg(api_id: str) -> str:
    # An id is one path segment: it can never add a level.
    return quote(api_id, safe="")


def project_path(project_id: str) -> str:
    return f"{PROJECTS}/{_seg(project_id)}"


def document_path(document_id: str) -> str:
    return f"{DOCUMENTS}/{_seg(document_id)}"


async def get_project(client: ComplianceClient, project_id: str) -> Fetched:
    return await client.get_json("projects.get", project_path(project_id))


async def list_attachments(client: ComplianceClient, project_id: str) -> list[Fetched]:
    """Every page of a project's attachments (follows next_page past empty pages)."""
    pages: list[Fetched] = []
    token: str | None = None
    seen: set[str] = set()
    while True:
        page = await client.get_page(
            "attachments", f"{project_path(project_id)}/attachments", (), token, PAGE_LIMIT
        )
        pages.append(page.fetched)
        if page.next_page is None:
            return pages
        if page.next_page in seen:
            raise RejectedError(f"attachments of {project_id}: page token repeated")
        seen.add(page.next_page)
        token = page.next_page


async def list_projects(
    client: ComplianceClient, query: list[tuple[str, str]]
) -> list[dict[str, Any]]:
    """Every project matching the list filters (the plan's candidates)."""
    items: list[dict[str, Any]] = []
    token: str | None = None
    seen: set[str] = set()
    while True:
        page = await client.get_page("projects.list", PROJECTS, query, token, PAGE_LIMIT)
        items += page.items
        if page.next_page is None:
            return items
        if page.next_page in seen:
            raise RejectedError("projects.list: page token repeated")
        seen.add(page.next_page)
        token = page.next_page


async def get_document(client: ComplianceClient, document_id: str) -> Fetched:
    return await client.get_json("documents.get", document_path(document_id))


async def delete_project(client: ComplianceClient, project_id: str) -> Fetched:
    """DELETE a project: ``{id, type?: "claude_project_deleted"}``; 409 while chats exist."""
    return await client.delete_json("projects.delete", project_path(project_id))


async def delete_document(client: ComplianceClient, document_id: str) -> Fetched:
    """DELETE one project document: ``{id, type: "claude_project_document_deleted"}``."""
    return await client.delete_json("documents.delete", document_path(document_id))


@dataclass(frozen=True)
class FeedWindow:
    events: list[dict[str, Any]]
    last_id: str | None  # continue after it
    request_id: str | None  # of the last page


async def list_activities(
    client: ComplianceClient, since: str, *, after_id: str | None = None
) -> FeedWindow:
    """Project-change events created at or after ``since``, oldest first, every page.

    ``after_id`` continues an earlier walk (the ``last_id`` it returned).
    """
    base = [("activity_types[]", t) for t in CHANGE_EVENTS]
    base += [("created_at.gte", since), ("order", "asc"), ("limit", str(FEED_LIMIT))]
    events: list[dict[str, Any]] = []
    after, request_id = after_id, None
    while True:
        query = base + ([("after_id", after)] if after else [])
        fetched = await client.get_json("activities", ACTIVITIES, query)
        request_id = fetched.request_id
        doc = fetched.json()
        data = doc.get("data") if isinstance(doc, dict) else None
        if not isinstance(data, list):
            raise BadResponseError("activities: the page has no data list")
        events += [e for e in data if isinstance(e, dict)]
        last = doc.get("last_id")
        after_this = last if isinstance(last, str) and last else after
        if not doc.get("has_more"):
            return FeedWindow(events, after_this, request_id)
        if after_this == after:
            raise BadResponseError("activities: has_more without a new last_id")
        after = after_this


class DeletePolicy(RetryPolicy):
    """Resend a DELETE only after a 429: the server refused it before acting on it.

    After a 5xx, a reset or a timeout the DELETE may have happened; sending it
    again would be a second DELETE. The caller reconciles with a GET instead.
    """

    def should_retry(self, error: BaseException, attempt: int) -> bool:
        return isinstance(error, RateLimitedError) and super().should_retry(error, attempt)

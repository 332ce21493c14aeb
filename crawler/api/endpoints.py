"""The Compliance API as typed calls: one method per endpoint, nothing else spells a URL.

:class:`ComplianceApi` wraps the one :class:`~crawler.api.client.ComplianceClient`
of a run. Each method names its endpoint once (the name used in records and
request counts) and builds its path from raw ids (:class:`~crawler.api.urls.ApiPath`:
the client encodes each id exactly once). Lists come two ways: ``*_page(...,
token)`` for one page, and a walk (``projects_list``, ``attachments``,
``collaborators``) that yields pages through :func:`crawler.api.paging.pages`,
the one paginator.

Adding an endpoint follows one pattern: a path below, then a method that calls
``self.client.get_json`` / ``get_page`` / ``download`` or, for a DELETE,
``self.client.request_json(NAME, "DELETE", path)``; a list endpoint also gets a
walk through ``pages``. The activity feed (``activities(...)``) is such a list.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from crawler.api.client import ComplianceClient
from crawler.api.failures import check_activity_page
from crawler.api.model import BodySink, Download, Fetched, Page, RequestStats
from crawler.api.paging import pages
from crawler.api.urls import ApiPath

__all__ = [
    "ACTIVITY_LIMIT",
    "DIRECTORY_LIMIT",
    "PAGE_LIMIT",
    "ComplianceApi",
    "list_organizations",
    "list_users",
]

# The largest page the project endpoints serve: the fewest requests per item.
PAGE_LIMIT = 100
# Organisations and users come in pages of up to 1000.
DIRECTORY_LIMIT = 1000
# The Activity Feed serves up to 5000 events a page.
ACTIVITY_LIMIT = 5000

ORGANIZATIONS = ApiPath.of("organizations")
PROJECTS = ApiPath.of("apps", "projects")
DOCUMENTS = PROJECTS.child("documents")
FILES = ApiPath.of("apps", "chats", "files")
ACTIVITIES = ApiPath.of("activities")

Query = Sequence[tuple[str, str]]


class ComplianceApi:
    """One typed call per endpoint (see the module docstring for the pattern)."""

    def __init__(self, client: ComplianceClient) -> None:
        self.client = client

    @property
    def stats(self) -> RequestStats:
        return self.client.stats

    # -- organisations and users ----------------------------------------------------------

    async def organizations(self) -> list[dict[str, Any]]:
        """Every organisation the key can see (needs read:compliance_org_data)."""
        return await _items(
            pages(
                lambda t: self.client.get_page(
                    "organizations", ORGANIZATIONS, (), t, DIRECTORY_LIMIT
                ),
                "organizations",
            )
        )

    async def users(self, org_uuid: str) -> list[dict[str, Any]]:
        """Every user of one organisation."""
        path = ORGANIZATIONS.child(org_uuid, "users")
        return await _items(
            pages(lambda t: self.client.get_page("users", path, (), t, DIRECTORY_LIMIT), "users")
        )

    # -- projects -------------------------------------------------------------------------

    async def projects_page(self, query: Query, token: str | None) -> Page:
        return await self.client.get_page("projects.list", PROJECTS, query, token, PAGE_LIMIT)

    def projects_list(self, query: Query) -> AsyncIterator[Page]:
        """The project list under ``query`` (filters), page by page."""
        return pages(lambda t: self.projects_page(query, t), "projects.list")

    async def project(self, project_id: str) -> Fetched:
        """One project's detail. GoneError if it was deleted since it was listed."""
        return await self.client.get_json("projects.get", PROJECTS.child(project_id))

    def attachments(self, project_id: str) -> AsyncIterator[Page]:
        path = PROJECTS.child(project_id, "attachments")
        return pages(
            lambda t: self.client.get_page("attachments", path, (), t, PAGE_LIMIT), "attachments"
        )

    def collaborators(self, project_id: str) -> AsyncIterator[Page]:
        path = PROJECTS.child(project_id, "collaborators")
        return pages(
            lambda t: self.client.get_page("collaborators", path, (), t, PAGE_LIMIT),
            "collaborators",
        )

    # -- documents and files --------------------------------------------------------------

    async def document(self, document_id: str) -> Fetched:
        """A project document with its text (``content``)."""
        return await self.client.get_json("documents.get", DOCUMENTS.child(document_id))

    async def document_metadata(self, document_id: str) -> Fetched:
        """A document's metadata, with the md5 of its text."""
        return await self.client.get_json(
            "documents.metadata", DOCUMENTS.child(document_id, "metadata")
        )

    async def file_content(
        self, file_id: str, open_sink: Callable[[], Awaitable[BodySink]]
    ) -> Download:
        """A file's body, streamed into a fresh sink per attempt (see ``client.download``)."""
        return await self.client.download(
            "files.content", FILES.child(file_id, "content"), open_sink
        )

    # -- deletes (through a client holding the delete key) --------------------------------

    def project_path(self, project_id: str) -> str:
        return PROJECTS.child(project_id).text

    def document_path(self, document_id: str) -> str:
        return DOCUMENTS.child(document_id).text

    async def delete_project(self, project_id: str) -> Fetched:
        """``{id, type?: "claude_project_deleted"}``; 409 while chats are attached."""
        return await self.client.request_json(
            "projects.delete", "DELETE", PROJECTS.child(project_id)
        )

    async def delete_document(self, document_id: str) -> Fetched:
        """``{id, type: "claude_project_document_deleted"}``."""
        return await self.client.request_json(
            "documents.delete", "DELETE", DOCUMENTS.child(document_id)
        )

    # -- the activity feed (scope read:compliance_activities) --------------------------------

    async def activities_page(
        self, query: Query, after_id: str | None, limit: int = ACTIVITY_LIMIT
    ) -> Page:
        """One page of the feed. It pages by id, not by token: ``next_page`` here is the
        page's ``last_id`` while ``has_more`` (continue with ``after_id``), else None."""
        full = [*query, ("limit", str(limit))]
        if after_id is not None:
            full.append(("after_id", after_id))
        fetched = await self.client.get_json(
            "activities", ACTIVITIES, full, validate=check_activity_page
        )
        doc = fetched.json()
        more = bool(doc.get("has_more", False))
        return Page(
            items=doc["data"],
            next_page=doc["last_id"] if more else None,
            has_more=more,
            fetched=fetched,
        )

    def activities(self, query: Query, after_id: str | None = None) -> AsyncIterator[Page]:
        """The feed under ``query`` (filters, ``order``), page by page, after ``after_id``."""
        return pages(lambda t: self.activities_page(query, t), "activities", start=after_id)


async def _items(walk: AsyncIterator[Page]) -> list[dict[str, Any]]:
    return [item async for page in walk for item in page.items]


async def list_organizations(client: ComplianceClient) -> list[dict[str, Any]]:
    """Every organisation the key can see (needs read:compliance_org_data)."""
    return await ComplianceApi(client).organizations()


async def list_users(client: ComplianceClient, org_uuid: str) -> list[dict[str, Any]]:
    """Every user of one organisation."""
    return await ComplianceApi(client).users(org_uuid)

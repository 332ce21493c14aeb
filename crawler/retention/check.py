"""Gather the facts about one candidate, offline then online, and decide.

Shared by ``plan`` (every candidate) and ``apply`` (every item again, just
before its delete). Offline first: a receipt, the archive's copy, a full
re-hash, the holds. Only a candidate that passes those costs requests: its
fresh detail and attachment pages (a document: its fresh text), then the feed;
without the feed, every document of a project that passed all else is read again.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, TypeVar

from crawler.api.endpoints import ComplianceApi
from crawler.api.model import Fetched
from crawler.errors import ArchiveError, GoneError, SkipItemError
from crawler.retention.changes import (
    attachment_differences,
    detail_differences,
    document_differences,
)
from crawler.retention.facts import Archived, ArchivedDocument, ArchiveFacts
from crawler.retention.feed import FeedWatch
from crawler.retention.holds import active_holds, holds_covering
from crawler.retention.rules import Facts, decide
from crawler.retention.store import RetentionStore

T = TypeVar("T")


@dataclass
class Checker:
    facts: ArchiveFacts
    store: RetentionStore
    api: ComplianceApi  # the read key's
    feed: FeedWatch

    def _receipt(self, kind: str, item_id: str) -> str | None:
        row = self.store.done_receipt(kind, item_id)
        if row is None:
            return None
        return f"{kind} {row.outcome} at {row.at} (plan {row.plan_sha256[:12]})"

    async def project(
        self, project_id: str, archived: Archived | None, problem: str | None
    ) -> Facts:
        f = Facts("project", project_id, archive_problem=problem)
        f.receipt = self._receipt("project", project_id)
        holds = active_holds(self.store.hold_events())  # read now: a hold added a second ago counts
        views: list[dict[str, Any]] = [{"id": project_id}]
        if archived is not None:
            views.append(archived.row.list_entry)
            f.rehash_problems = self.facts.rehash_project(archived)
        f.holds = holds_covering(holds, *views)
        if decide(f, offline=True) or archived is None:
            return f  # refused offline: no request spent on it
        fresh = await self._read_project(f, archived)
        if fresh is not None:
            f.holds = holds_covering(holds, *views, fresh)
            if not self.feed.available and not f.differences and not decide(f):
                f.differences = await self._reread_documents(archived)
        f.feed_events = self.feed.changes(archived.fetched_at, project_id)
        return f

    async def _reread_documents(self, archived: Archived) -> list[str]:
        """Without the feed, a document replaced in place shows only in its text: read each.

        One request per document, spent only on a project that passed every other
        check; unknown (a failed read) is not unchanged.
        """
        out: list[str] = []
        for entry in archived.parsed.documents:
            if entry.text is None:
                continue
            try:
                fresh = _object(await self.api.document(entry.id))
            except SkipItemError as exc:
                out.append(f"document {entry.id} could not be read again: {exc}")
                continue
            out += [
                f"{entry.id}: {d}"
                for d in document_differences(entry.text.md5, fresh.get("content"))
            ]
        return out

    async def _read_project(self, f: Facts, archived: Archived) -> dict[str, Any] | None:
        """Fill the fresh facts; the fresh detail, or None when it could not be read."""
        read = await _fresh(f, self._fetch_project(f.id))
        if read is None:
            return None
        fresh, pages = read
        f.fresh, f.chats_count = "ok", fresh.get("chats_count")
        attachments = [i for p in pages for i in _object(p).get("data") or []]
        try:
            f.differences = detail_differences(archived.detail(), fresh)
            f.differences += attachment_differences(archived.attachments(), attachments)
        except ArchiveError as exc:
            f.archive_problem = f"the archived detail cannot be read: {exc}"
        return fresh

    async def _fetch_project(self, project_id: str) -> tuple[dict[str, Any], list[Fetched]]:
        fresh = _object(await self.api.project(project_id))
        pages: list[Fetched] = []
        if fresh.get("attachments_count") != 0:  # known empty: no request
            pages = [p.fetched async for p in self.api.attachments(project_id)]
        return fresh, pages

    async def document(
        self, document_id: str, found: ArchivedDocument | None, problem: str | None
    ) -> Facts:
        f = Facts("document", document_id, archive_problem=problem)
        f.receipt = self._receipt("document", document_id)
        if found is None:
            return f
        project = found.project
        f.receipt = f.receipt or self._receipt("project", project.row.project_id)
        f.rehash_problems = self.facts.rehash_document(found)
        holds = active_holds(self.store.hold_events())
        f.holds = holds_covering(holds, {"id": project.row.project_id}, project.row.list_entry)
        if decide(f, offline=True):
            return f
        fetched = await _fresh(f, self.api.document(document_id))
        if fetched is None:
            return f
        f.fresh = "ok"
        f.differences = document_differences(found.text.md5, _object(fetched).get("content"))
        f.feed_events = self.feed.changes(found.fetched_at, project.row.project_id, document_id)
        return f


async def _fresh(f: Facts, read: Awaitable[T]) -> T | None:
    """What ``read`` answers, or None with ``f.fresh`` saying why not (gone, or an error)."""
    try:
        return await read
    except GoneError as exc:
        f.fresh, f.fresh_error = "gone", str(exc)
    except SkipItemError as exc:
        f.fresh, f.fresh_error = "error", str(exc)
    return None


def _object(fetched: Fetched) -> dict[str, Any]:
    doc = fetched.json()
    return doc if isinstance(doc, dict) else {}

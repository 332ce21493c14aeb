"""One project's requests, in order, turned into one project record.

Steps 5-9 of the data flow (see ``crawler/__init__.py``): detail, attachment
pages (skipped when ``attachments_count`` is 0), collaborator pages, document
bodies and file bodies (:mod:`crawler.crawl.bodies`). Every response body is
stored as a blob before the record that refers to it, and the record is stored
before the index marks the project done: the archive's write order. The record
is built by the one codec, :mod:`crawler.archive.records`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson

from crawler.api.model import Page
from crawler.archive import Archive, records
from crawler.archive.holding import holding
from crawler.archive.refs import BlobRef
from crawler.crawl.bodies import BodyFetcher, failure_json, fetch_json, gone_fetch, json_object
from crawler.crawl.work import Outcome, ProjectJob
from crawler.errors import GoneError, SkipItemError

__all__ = ["PER_PROJECT_PARALLEL", "ProjectFetcher", "stored_page_items"]

# Sub-requests of one project in flight at once: enough to keep the limiter
# busy behind a slow body, few enough to bound open sockets and temp files.
PER_PROJECT_PARALLEL = 4

Items = list[dict[str, Any]]
Fetches = list[dict[str, Any]]


class ProjectFetcher(BodyFetcher):
    """Fetches one project whole (or carries it, see :meth:`fetch`)."""

    async def fetch(self, job: ProjectJob) -> Outcome:
        # A held project's bodies and record are written under the S3 legal hold.
        with holding(self.held(job.entry)):
            if job.earlier is not None:
                return await self._refresh(job, job.earlier)
            return await self._fetch(job)

    async def _refresh(self, job: ProjectJob, earlier_ref: BlobRef) -> Outcome:
        """Carry an unchanged project unless its collaborators changed (one walk, no more)."""
        try:
            items, fetches = await self._walk(self.api.collaborators(job.project_id))
        except SkipItemError as err:
            return Outcome("failed", None, [failure_json("project", job.project_id, err)])
        earlier = records.Record(self.archive.read_record(earlier_ref))
        before = [stored_page_items(self.archive, f) for f in earlier.collaborator_pages]
        if [item for page in before for item in page] == items:
            return Outcome("carried", earlier_ref, [], earlier.counts, earlier.totals())
        return await self._fetch(job, collaborators=(items, fetches))

    async def _fetch(
        self, job: ProjectJob, collaborators: tuple[Items, Fetches] | None = None
    ) -> Outcome:
        pid = job.project_id
        try:
            detail = await self.api.project(pid)
        except GoneError as err:
            gone = gone_fetch(err, "projects.get")
            record = records.gone_record(pid, self.snapshot_id, job.entry, job.list_page, gone)
            stored = await self.archive.put_record(record)
            return Outcome("gone", stored.ref, [], {}, records.Record(record).totals())
        except SkipItemError as err:
            return Outcome("failed", None, [failure_json("project", pid, err)])
        details = json_object(detail)
        # Stored while the lists are walked (a bucket's PUT is a round trip): awaited
        # before anything names it, and before a failure is reported (it is kept).
        detail_put = asyncio.ensure_future(self.archive.blobs.put(detail.body, "json"))
        try:
            (attachments, attachment_fetches), collaborators = await self._lists(
                pid, details.get("attachments_count") != 0, collaborators
            )
        except SkipItemError as err:
            await detail_put
            # Without the full lists we cannot say what the project holds: retry it whole.
            return Outcome("failed", None, [failure_json("project", pid, err)])
        except BaseException:
            detail_put.cancel()  # cancelled or failing: at worst an object without its row
            raise
        detail_blob = await detail_put
        failures: list[dict[str, Any]] = []
        documents, files = await self._bodies(attachments, failures)
        counts = {
            "attachments": len(attachments),
            "collaborators": len(collaborators[0]),
            "documents": len(documents),
            "files": len(files),
        }
        record = records.done_record(
            pid,
            self.snapshot_id,
            job.entry,
            job.list_page,
            detail=fetch_json(detail, detail_blob.ref),
            attachments=attachment_fetches,
            collaborators=collaborators[1],
            documents=documents,
            files=files,
            failures=failures,
            counts=counts,
        )
        stored = await self.archive.put_record(record)
        totals = records.Record(record).totals()
        return Outcome(record["state"], stored.ref, failures, counts, totals)

    async def _lists(
        self, pid: str, has_attachments: bool, collaborators: tuple[Items, Fetches] | None
    ) -> tuple[tuple[Items, Fetches], tuple[Items, Fetches]]:
        """The attachment and collaborator lists, walked side by side (two requests in
        flight rather than one: a project alone at the end of a run keeps the budget busy)."""

        async def attachments() -> tuple[Items, Fetches]:
            return await self._walk(self.api.attachments(pid)) if has_attachments else ([], [])

        async def people() -> tuple[Items, Fetches]:
            if collaborators is not None:
                return collaborators
            return await self._walk(self.api.collaborators(pid))

        # Both run to the end, so a failure of one leaves no walk behind it.
        listed, people_listed = await asyncio.gather(
            attachments(), people(), return_exceptions=True
        )
        if isinstance(listed, BaseException):
            raise listed
        if isinstance(people_listed, BaseException):
            raise people_listed
        return listed, people_listed

    async def _bodies(
        self, attachments: Items, failures: list[dict[str, Any]]
    ) -> tuple[Items, Items]:
        """The project's document and file entries; what failed is added to ``failures``."""
        gate = asyncio.Semaphore(PER_PROJECT_PARALLEL)

        def guarded(
            kind: str, get: Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
        ) -> Callable[[dict[str, Any]], Awaitable[dict[str, Any] | None]]:
            async def one(att: dict[str, Any]) -> dict[str, Any] | None:
                async with gate:
                    try:
                        return await get(att)
                    except SkipItemError as err:
                        failures.append(failure_json(kind, str(att.get("id")), err))
                        return None

            return one

        docs = [a for a in attachments if a.get("type") == "project_doc" and "id" in a]
        file_atts = [a for a in attachments if a.get("type") == "project_file" and "id" in a]
        one_doc = guarded("document", lambda a: self.document(str(a["id"])))
        one_file = guarded("file", self.file)
        file_atts = file_atts if self.files else []
        # One queue for both kinds, so the gate never drains between documents and files.
        entries = await asyncio.gather(
            *(one_doc(a) for a in docs), *(one_file(a) for a in file_atts)
        )
        doc_entries, file_entries = entries[: len(docs)], entries[len(docs) :]
        for entry in file_entries:
            if entry is not None and entry.pop("collision", False):
                request_id = (entry.get("content") or {}).get("request_id")
                failures.append(records.collision_entry(entry["id"], request_id))
        return [d for d in doc_entries if d is not None], [f for f in file_entries if f is not None]

    async def _walk(self, walk: AsyncIterator[Page]) -> tuple[Items, Fetches]:
        """Every item of a list, each page stored before the next is asked for."""
        items: Items = []
        fetches: Fetches = []
        async for page in walk:
            stored = await self.archive.blobs.put(page.fetched.body, "json")
            fetches.append(fetch_json(page.fetched, stored.ref))
            items.extend(page.items)
        return items, fetches


def stored_page_items(archive: Archive, fetch: records.Fetch) -> list[Any]:
    """The ``data`` items of a stored page."""
    if fetch.blob is None:
        return []
    page = orjson.loads(archive.blobs.read(fetch.blob))
    items = page.get("data") if isinstance(page, dict) else None
    return items if isinstance(items, list) else []

"""One project's requests, in order, turned into one project record.

Steps 5–9 of the data flow (see ``crawler/__init__.py``): detail, attachment
pages (skipped when ``attachments_count`` is 0), collaborator pages, document
bodies (once per snapshot), file bodies (skipped when the listed md5 is
already archived). Every response body is stored as a blob before the record
that refers to it, and the record is stored before the index marks the
project done: the archive's write order.

Documents and files can be shared by several projects that different workers
fetch at the same moment; ``SharedWork`` makes the second asker wait for the
first one's answer instead of spending a second request on it.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import quote

import orjson

from crawler.api.client import ComplianceClient, Download, Fetched
from crawler.archive import Archive, records
from crawler.archive.blobs import BlobWriter
from crawler.archive.refs import BlobRef
from crawler.errors import BadResponseError, GoneError, RetriesExhaustedError, SkipItemError

PROJECTS = "/v1/compliance/apps/projects"
DOCUMENTS = "/v1/compliance/apps/projects/documents"
FILES = "/v1/compliance/apps/chats/files"
PAGE_LIMIT = 100
# A server that keeps answering empty pages with fresh tokens would otherwise
# hold a worker forever; no real walk comes anywhere near this.
MAX_PAGES = 100_000
# Sub-requests of one project in flight at once: enough to keep the limiter
# busy behind a slow body, few enough to bound open sockets and temp files.
PER_PROJECT_PARALLEL = 4

_MD5_HEX = re.compile(r"^[0-9a-f]{32}$")
T = TypeVar("T")


def segment(api_id: str) -> str:
    """An id from the API as one URL path segment: it can never add a path level."""
    return quote(api_id, safe="")


def fetch_json(f: Fetched, blob: BlobRef | None) -> dict[str, Any]:
    """The record's fetch entry for one response (see :func:`records.fetch_entry`)."""
    return records.fetch_entry(
        endpoint=f.endpoint,
        method=f.method,
        path=f.path,
        query=f.query,
        status=f.status,
        request_id=f.request_id,
        fetched_at=f.fetched_at,
        blob=blob,
    )


def failure_json(kind: str, item_id: str | None, err: SkipItemError) -> dict[str, Any]:
    return records.failure_entry(
        kind,
        item_id,
        reason=str(err.message),
        status=err.status,
        error_type=err.error_type,
        request_id=err.request_id,
    )


@dataclass
class ProjectJob:
    entry: dict[str, Any]  # the project's item from the list page, as served
    list_page: dict[str, Any]  # fetch of that page
    earlier: BlobRef | None = None  # incremental + refresh: the unchanged project's last record

    @property
    def project_id(self) -> str:
        return str(self.entry["id"])


@dataclass
class Outcome:
    state: str  # done | partial | gone | failed
    record: BlobRef | None
    failures: list[dict[str, Any]]
    counts: dict[str, int] = field(default_factory=dict)


class SharedWork:
    """Coalesces identical work across workers: the first asker fetches, the rest await it."""

    def __init__(self) -> None:
        self._inflight: dict[str, asyncio.Future[Any]] = {}

    async def once(self, key: str, work: Callable[[], Awaitable[T]]) -> T:
        existing = self._inflight.get(key)
        if existing is not None:
            result: T = await asyncio.shield(existing)
            return result
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            value = await work()
        except BaseException as exc:
            if not future.done():
                future.set_exception(exc)
                future.exception()  # mark retrieved: other waiters may not exist
            raise
        finally:
            # Only in-flight work is shared; what is done lives in the archive's index.
            self._inflight.pop(key, None)
        future.set_result(value)
        return value


class ProjectFetcher:
    def __init__(
        self,
        client: ComplianceClient,
        archive: Archive,
        snapshot_id: str,
        *,
        files: bool,
        document_metadata: bool,
        shared: SharedWork,
        on_event: Callable[[str, int], None] = lambda kind, n: None,
    ) -> None:
        self.client = client
        self.archive = archive
        self.snapshot_id = snapshot_id
        self.files = files
        self.document_metadata = document_metadata
        self.shared = shared
        self.on_event = on_event

    # -- one project --------------------------------------------------------------------

    async def fetch(self, job: ProjectJob) -> Outcome:
        if job.earlier is not None:
            return await self._refresh(job, job.earlier)
        return await self._fetch(job)

    async def _refresh(self, job: ProjectJob, earlier_ref: BlobRef) -> Outcome:
        """Carry an unchanged project unless its collaborators changed (one walk, no more)."""
        path = f"{PROJECTS}/{segment(job.project_id)}/collaborators"
        try:
            items, fetches = await self._walk("collaborators", path)
        except SkipItemError as err:
            return Outcome("failed", None, [failure_json("project", job.project_id, err)])
        earlier = records.Record(self.archive.read_record(earlier_ref))
        before = [stored_page_items(self.archive, f) for f in earlier.collaborator_pages]
        if [item for page in before for item in page] == items:
            return Outcome("carried", earlier_ref, [])
        return await self._fetch(job, collaborators=(items, fetches))

    async def _fetch(
        self,
        job: ProjectJob,
        collaborators: tuple[list[dict[str, Any]], list[dict[str, Any]]] | None = None,
    ) -> Outcome:
        pid = job.project_id
        try:
            detail = await self.client.get_json("projects.get", f"{PROJECTS}/{segment(pid)}")
        except GoneError as err:
            gone = _gone_fetch(err, "projects.get", f"{PROJECTS}/{segment(pid)}")
            record = records.gone_record(pid, self.snapshot_id, job.entry, job.list_page, gone)
            stored = await self.archive.put_record(record)
            return Outcome("gone", stored.ref, [])
        except SkipItemError as err:
            return Outcome("failed", None, [failure_json("project", pid, err)])

        detail_blob = await self.archive.blobs.put(detail.body, "json")
        details = _object(detail)
        try:
            attachments: list[dict[str, Any]] = []
            attachment_fetches: list[dict[str, Any]] = []
            if details.get("attachments_count") != 0:
                attachments, attachment_fetches = await self._walk(
                    "attachments", f"{PROJECTS}/{segment(pid)}/attachments"
                )
            if collaborators is None:
                collaborators = await self._walk(
                    "collaborators", f"{PROJECTS}/{segment(pid)}/collaborators"
                )
        except SkipItemError as err:
            # Without the full lists we cannot say what the project holds: retry it whole.
            return Outcome("failed", None, [failure_json("project", pid, err)])

        failures: list[dict[str, Any]] = []
        gate = asyncio.Semaphore(PER_PROJECT_PARALLEL)
        documents = [a for a in attachments if a.get("type") == "project_doc"]
        file_refs = (
            [a for a in attachments if a.get("type") == "project_file"] if self.files else []
        )

        async def one_document(att: dict[str, Any]) -> dict[str, Any] | None:
            async with gate:
                try:
                    return await self.document(str(att["id"]))
                except SkipItemError as err:
                    failures.append(failure_json("document", str(att.get("id")), err))
                    return None

        async def one_file(att: dict[str, Any]) -> dict[str, Any] | None:
            async with gate:
                try:
                    return await self.file(att)
                except SkipItemError as err:
                    failures.append(failure_json("file", str(att.get("id")), err))
                    return None

        doc_entries = await asyncio.gather(*(one_document(a) for a in documents if "id" in a))
        file_entries = await asyncio.gather(*(one_file(a) for a in file_refs if "id" in a))
        for entry in file_entries:
            if entry is not None and entry.pop("collision", False):
                request_id = (entry.get("content") or {}).get("request_id")
                failures.append(records.collision_entry(entry["id"], request_id))

        counts = {
            "attachments": len(attachments),
            "collaborators": len(collaborators[0]),
            "documents": sum(1 for d in doc_entries if d is not None),
            "files": sum(1 for f in file_entries if f is not None),
        }
        record = records.done_record(
            pid,
            self.snapshot_id,
            job.entry,
            job.list_page,
            detail=fetch_json(detail, detail_blob.ref),
            attachments=attachment_fetches,
            collaborators=collaborators[1],
            documents=[d for d in doc_entries if d is not None],
            files=[f for f in file_entries if f is not None],
            failures=failures,
            counts=counts,
        )
        stored = await self.archive.put_record(record)
        return Outcome(record["state"], stored.ref, failures, counts)

    async def _walk(
        self, endpoint: str, path: str
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        items: list[dict[str, Any]] = []
        fetches: list[dict[str, Any]] = []
        cursor: str | None = None
        for _ in range(MAX_PAGES):
            page = await self.client.get_page(endpoint, path, (), cursor, PAGE_LIMIT)
            stored = await self.archive.blobs.put(page.fetched.body, "json")
            fetches.append(fetch_json(page.fetched, stored.ref))
            items.extend(page.items)
            if page.next_page is None:
                return items, fetches
            cursor = page.next_page
        raise RetriesExhaustedError(BadResponseError(f"{endpoint}: more than {MAX_PAGES} pages"), 1)

    # -- documents: once per snapshot ---------------------------------------------------

    async def document(self, doc_id: str) -> dict[str, Any]:
        cached = self.archive.index.get_document(self.snapshot_id, doc_id)
        if cached is not None:
            return cached
        return await self.shared.once(f"doc:{doc_id}", lambda: self._fetch_document(doc_id))

    async def _fetch_document(self, doc_id: str) -> dict[str, Any]:
        cached = self.archive.index.get_document(self.snapshot_id, doc_id)
        if cached is not None:  # finished by another worker while we queued
            return cached
        path = f"{DOCUMENTS}/{segment(doc_id)}"
        mismatch: BadResponseError | None = None
        for _ in range(2):  # a body that disagrees with its metadata is fetched once more
            response = await self.client.get_json("documents.get", path)
            content = _object(response).get("content")
            if not isinstance(content, str):
                raise RetriesExhaustedError(
                    BadResponseError(
                        "document response has no text 'content'", request_id=response.request_id
                    ),
                    1,
                )
            text = content.encode("utf-8")
            metadata: Fetched | None = None
            if self.document_metadata:
                metadata = await self.client.get_json("documents.metadata", f"{path}/metadata")
                expected = _object(metadata).get("md5")
                actual = hashlib.md5(text).hexdigest()
                if isinstance(expected, str) and expected.lower() != actual:
                    mismatch = BadResponseError(
                        f"document text md5 {actual} disagrees with its metadata md5 {expected}",
                        request_id=response.request_id,
                    )
                    continue
            response_blob = await self.archive.blobs.put(response.body, "json")
            text_blob = await self.archive.blobs.put(text, "text")
            meta_fetch = None
            if metadata is not None:
                meta_blob = await self.archive.blobs.put(metadata.body, "json")
                meta_fetch = fetch_json(metadata, meta_blob.ref)
            entry = records.document_entry(
                doc_id, fetch_json(response, response_blob.ref), text_blob.ref, meta_fetch
            )
            self.archive.index.put_document(self.snapshot_id, doc_id, entry)
            self.on_event("document", len(text))
            return entry
        assert mismatch is not None
        raise RetriesExhaustedError(mismatch, 2)

    # -- files: skipped when the listed md5 is archived ---------------------------------

    async def file(self, att: dict[str, Any]) -> dict[str, Any]:
        file_id = str(att["id"])
        listed = att.get("md5")
        listed_md5 = (
            listed.lower() if isinstance(listed, str) and _MD5_HEX.match(listed.lower()) else None
        )
        if listed_md5:
            known = self.archive.blobs.find_md5(listed_md5)
            if known is not None:
                return records.file_entry(file_id, listed, None, known)
        # Two ids with one listed md5 pin the same bytes: while one downloads, the
        # other waits for it instead of downloading them again.
        key = f"md5:{listed_md5}" if listed_md5 else f"file:{file_id}"
        entry = dict(await self.shared.once(key, lambda: self._download(file_id, listed)))
        if entry["id"] != file_id:  # another file's download answered for this one
            entry.update(id=file_id, listed_md5=listed, content=None, collision=False)
        return entry

    async def _download(self, file_id: str, listed: Any) -> dict[str, Any]:
        writers: list[BlobWriter] = []

        async def open_sink() -> BlobWriter:
            writer = self.archive.blobs.writer("file")
            writers.append(writer)
            return writer

        download: Download = await self.client.download(
            "files.content", f"{FILES}/{segment(file_id)}/content", open_sink
        )
        try:
            stored = await writers[-1].commit()
        except BaseException:
            await writers[-1].abort()
            raise
        content = fetch_json(download.fetched, stored.ref)
        headers = download.fetched.headers
        content["content_type"] = headers.get("content-type")
        content["content_disposition"] = headers.get("content-disposition")
        content["content_md5"] = download.content_md5
        self.on_event("file", stored.ref.size)
        # "collision" is popped by the caller: a report, never stored in the entry.
        return {
            **records.file_entry(file_id, listed, content, stored.ref),
            "collision": stored.collision,
        }


def stored_page_items(archive: Archive, fetch: records.Fetch) -> list[Any]:
    """The ``data`` items of a stored page."""
    if fetch.blob is None:
        return []
    page = orjson.loads(archive.blobs.read(fetch.blob))
    items = page.get("data") if isinstance(page, dict) else None
    return items if isinstance(items, list) else []


def _object(f: Fetched) -> dict[str, Any]:
    value = f.json()
    if not isinstance(value, dict):
        raise RetriesExhaustedError(
            BadResponseError(f"{f.endpoint}: expected a JSON object", request_id=f.request_id), 1
        )
    return value


def _gone_fetch(err: GoneError, endpoint: str, path: str) -> dict[str, Any]:
    return records.fetch_entry(
        endpoint=endpoint,
        method="GET",
        path=path,
        query=(),
        status=err.status or 404,
        request_id=err.request_id,
        fetched_at=None,
        blob=None,
    )

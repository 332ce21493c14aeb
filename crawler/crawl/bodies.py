"""Document and file bodies: each fetched once per snapshot, stored before it is named.

Steps 8 and 9 of the data flow. A document's body is fetched once per snapshot
(the index remembers its entry; ``SharedWork`` makes a second asker wait for the
first); a file body is skipped when its listed md5 is already archived, and two
ids with one listed md5 share one download.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Callable, Mapping
from typing import Any, cast

from crawler.api.client import ComplianceClient
from crawler.api.endpoints import ComplianceApi
from crawler.api.model import Download, Fetched
from crawler.archive import Archive, records
from crawler.archive.blobs import BlobWriter, StoredBlob
from crawler.archive.refs import BlobRef
from crawler.crawl.work import SharedWork
from crawler.errors import BadResponseError, GoneError, RetriesExhaustedError, SkipItemError

__all__ = ["BodyFetcher", "failure_json", "fetch_json", "gone_fetch", "json_object"]

_MD5_HEX = re.compile(r"^[0-9a-f]{32}$")


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


def gone_fetch(err: GoneError, endpoint: str) -> dict[str, Any]:
    """The fetch entry of a request answered 404: no blob, no fetch time."""
    return records.fetch_entry(
        endpoint=endpoint,
        method="GET",
        path=err.path or "",
        query=(),
        status=err.status or 404,
        request_id=err.request_id,
        fetched_at=None,
        blob=None,
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


def json_object(f: Fetched) -> dict[str, Any]:
    """The response as a JSON object; anything else is a bad response (not retried again)."""
    value = f.json()
    if not isinstance(value, dict):
        raise RetriesExhaustedError(
            BadResponseError(f"{f.endpoint}: expected a JSON object", request_id=f.request_id), 1
        )
    return value


class BodyFetcher:
    """Fetches and stores document and file bodies for one snapshot."""

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
        held: Callable[[Mapping[str, Any]], bool] = lambda entry: False,
    ) -> None:
        self.api = ComplianceApi(client)
        self.held = held  # a legal hold covers this list entry's project (crawl/holds.py)
        self.archive = archive
        self.snapshot_id = snapshot_id
        self.files = files
        self.document_metadata = document_metadata
        self.shared = shared
        self.on_event = on_event

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
        mismatch: BadResponseError | None = None
        for _ in range(2):  # a body that disagrees with its metadata is fetched once more
            response = await self.api.document(doc_id)
            content = json_object(response).get("content")
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
                metadata = await self.api.document_metadata(doc_id)
                mismatch = _md5_mismatch(json_object(metadata).get("md5"), text, response)
                if mismatch is not None:
                    continue
            return await self._store_document(doc_id, response, text, metadata)
        assert mismatch is not None
        raise RetriesExhaustedError(mismatch, 2)

    async def _store_document(
        self, doc_id: str, response: Fetched, text: bytes, metadata: Fetched | None
    ) -> dict[str, Any]:
        puts = [self.archive.blobs.put(response.body, "json"), self.archive.blobs.put(text, "text")]
        if metadata is not None:
            puts.append(self.archive.blobs.put(metadata.body, "json"))
        # Side by side (in a bucket, each is a round trip); every one stored, or its
        # failure raised, before the entry names them.
        done = await asyncio.gather(*puts, return_exceptions=True)
        for outcome in done:
            if isinstance(outcome, BaseException):
                raise outcome
        response_blob, text_blob, *meta_blob = cast(list[StoredBlob], done)
        meta_fetch = None
        if metadata is not None:
            meta_fetch = fetch_json(metadata, meta_blob[0].ref)
        entry = records.document_entry(
            doc_id, fetch_json(response, response_blob.ref), text_blob.ref, meta_fetch
        )
        self.archive.index.put_document(self.snapshot_id, doc_id, entry)
        self.on_event("document", len(text))
        return entry

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

        download: Download = await self.api.file_content(file_id, open_sink)
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
        entry = records.file_entry(file_id, listed, content, stored.ref)
        return {**entry, "collision": stored.collision}


def _md5_mismatch(expected: Any, text: bytes, response: Fetched) -> BadResponseError | None:
    actual = hashlib.md5(text).hexdigest()
    if isinstance(expected, str) and expected.lower() != actual:
        return BadResponseError(
            f"document text md5 {actual} disagrees with its metadata md5 {expected}",
            request_id=response.request_id,
        )
    return None

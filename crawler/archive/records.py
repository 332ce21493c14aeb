"""The project record: the one codec that builds, encodes and parses it (docs/ARCHIVE.md).

One ``record`` blob per project per snapshot holds the project's list entry and a
*fetch* (the chain of custody of one response) for every request made for it.
Nothing else in the package spells a record's keys.

Building (the crawl's side)::

    fetch_entry(...)        one fetch: endpoint, method, path, query, status, ids, blob
    failure_entry(...)      one failed item; collision_entry(...) an md5 collision report
    document_entry(...)     a ``documents[]`` entry; file_entry(...) a ``files[]`` entry
    done_record(...)        a fetched project (state done or partial)
    gone_record(...)        a project whose detail answered 404
    encode_record(record)   its bytes (what the blob store keeps)

Reading (everyone else)::

    decode_record(data, where)  bytes -> dict, or ArchiveError naming ``where``
    Record(dict)                typed accessors over a parsed record: ``state``,
                                ``detail``, ``attachment_pages``, ``documents``,
                                ``files``, ``failures``, ``counts``, ``bodies()``,
                                ``blob_refs()``, ``body_bytes()``...
    record_blob_refs(dict)      every blob a record refers to, with where it is named

Accessors check the shape they rely on and raise ArchiveError on a malformed
record; they never look inside ``list_entry`` (API data, never a reference).
This module builds JSON values only: it knows nothing of HTTP (a fetch is built
from plain values) and nothing of the disk (the archive stores the bytes).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from crawler.archive.refs import BlobRef
from crawler.errors import ArchiveError

__all__ = [
    "COUNT_KEYS",
    "ENDPOINTS",
    "PROJECT_RECORD_STATES",
    "RECORD_FORMAT",
    "DocumentEntry",
    "Fetch",
    "FileEntry",
    "Record",
    "collision_entry",
    "decode_record",
    "document_entry",
    "done_record",
    "encode_record",
    "failure_entry",
    "fetch_entry",
    "file_entry",
    "gone_record",
    "record_blob_refs",
]

RECORD_FORMAT = 1
# Endpoint names, as fetches and the manifests' request counts spell them.
ENDPOINTS = (
    "organizations",
    "users",
    "projects.list",
    "projects.get",
    "attachments",
    "collaborators",
    "documents.get",
    "documents.metadata",
    "files.get",
    "files.content",
)
# States a record itself can state (the index adds listed, failed and carried).
PROJECT_RECORD_STATES = frozenset({"done", "partial", "gone"})
# The keys of a record's ``counts`` (ARCHIVE.md): what the fetch found, by item.
COUNT_KEYS = ("attachments", "collaborators", "documents", "files")
COLLISION_REASON = (
    "a different body with the same md5 is already archived; both are kept (told apart by sha256)"
)


# -- building -----------------------------------------------------------------------------------


def fetch_entry(
    *,
    endpoint: str,
    method: str,
    path: str,
    query: Sequence[tuple[str, str]] | Sequence[Sequence[str]],
    status: int,
    request_id: str | None,
    fetched_at: str | None,
    blob: BlobRef | None,
) -> dict[str, Any]:
    """The chain of custody of one response ("Project records"). No ``blob`` for a 404."""
    out: dict[str, Any] = {
        "endpoint": endpoint,
        "method": method,
        "path": path,
        "query": [list(kv) for kv in query],
        "status": status,
        "request_id": request_id,
    }
    # A 404 that was never stored has no fetch time either (as format 1 always wrote it).
    if fetched_at is not None or blob is not None:
        out["fetched_at"] = fetched_at
    if blob is not None:
        out["blob"] = blob.to_json()
    return out


def failure_entry(
    kind: str,
    item_id: str | None,
    *,
    reason: str,
    status: int | None,
    error_type: str | None,
    request_id: str | None,
) -> dict[str, Any]:
    """One item that could not be fetched: ``kind`` is project, document or file."""
    return {
        "kind": kind,
        "id": item_id,
        "reason": reason,
        "status": status,
        "error_type": error_type,
        "request_id": request_id,
    }


def collision_entry(file_id: str, request_id: str | None) -> dict[str, Any]:
    """A report, not a failed item: both bodies with one md5 are kept."""
    return failure_entry(
        "md5_collision",
        file_id,
        reason=COLLISION_REASON,
        status=None,
        error_type=None,
        request_id=request_id,
    )


def document_entry(
    doc_id: str, response: dict[str, Any], text: BlobRef, metadata: dict[str, Any] | None
) -> dict[str, Any]:
    """A ``documents[]`` entry: the response fetch, its text blob, the metadata fetch."""
    return {"id": doc_id, "response": response, "text": text.to_json(), "metadata": metadata}


def file_entry(
    file_id: str, listed_md5: Any, content: dict[str, Any] | None, blob: BlobRef
) -> dict[str, Any]:
    """A ``files[]`` entry. ``listed_md5`` is the attachment's ``md5`` exactly as listed
    (any JSON value); ``content`` is None when the body was already archived."""
    return {"id": file_id, "listed_md5": listed_md5, "content": content, "blob": blob.to_json()}


def _head(
    project_id: str, snapshot_id: str, list_entry: dict[str, Any], list_page: dict[str, Any]
) -> dict[str, Any]:
    return {
        "record_format": RECORD_FORMAT,
        "project_id": project_id,
        "fetched_in": snapshot_id,
        "carried_from": None,  # reserved in format 1; readers derive it from fetched_in
        "list_entry": list_entry,
        "list_page": list_page,
    }


def gone_record(
    project_id: str,
    snapshot_id: str,
    list_entry: dict[str, Any],
    list_page: dict[str, Any],
    detail: dict[str, Any],
) -> dict[str, Any]:
    """The record of a project whose detail answered 404 (deleted since it was listed)."""
    return {
        **_head(project_id, snapshot_id, list_entry, list_page),
        "state": "gone",
        "detail": detail,
        "attachments": [],
        "collaborators": [],
        "documents": [],
        "files": [],
        "failures": [],
        "counts": {},
    }


def done_record(
    project_id: str,
    snapshot_id: str,
    list_entry: dict[str, Any],
    list_page: dict[str, Any],
    *,
    detail: dict[str, Any],
    attachments: list[dict[str, Any]],
    collaborators: list[dict[str, Any]],
    documents: list[dict[str, Any]],
    files: list[dict[str, Any]],
    failures: list[dict[str, Any]],
    counts: dict[str, int],
) -> dict[str, Any]:
    """The record of a fetched project; its state follows from ``failures``.

    ``attachments`` and ``collaborators`` are the page fetches; ``counts`` holds
    the items found (COUNT_KEYS). A collision is reported, not failed: both bodies
    are kept and nothing is missing, so it alone leaves the state ``done``.
    """
    state = "partial" if any(f["kind"] != "md5_collision" for f in failures) else "done"
    return {
        **_head(project_id, snapshot_id, list_entry, list_page),
        "state": state,
        "detail": detail,
        "attachments": attachments,
        "collaborators": collaborators,
        "documents": documents,
        "files": files,
        "failures": failures,
        "counts": counts,
    }


def encode_record(record: Mapping[str, Any]) -> bytes:
    """A record's bytes, as its blob holds them (compact JSON, keys in build order)."""
    return orjson.dumps(record)


def decode_record(data: bytes, where: str) -> dict[str, Any]:
    """Parse a record's bytes; ArchiveError naming ``where`` if they are not a JSON object."""
    try:
        record = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise ArchiveError(f"{where} is damaged: not valid JSON") from None
    if not isinstance(record, dict):
        raise ArchiveError(f"{where} is damaged: not a JSON object")
    return record


# -- reading ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fetch:
    """One fetch of a record, typed. ``blob`` is None for a 404."""

    endpoint: str | None
    path: str | None
    status: int | None
    request_id: str | None
    fetched_at: str | None
    blob: BlobRef | None
    raw: Mapping[str, Any]

    @classmethod
    def parse(cls, value: Any, what: str) -> Fetch:
        if not isinstance(value, Mapping):
            raise ArchiveError(f"{what} is not a fetch object")
        blob = value.get("blob")
        return cls(
            endpoint=_str(value.get("endpoint")),
            path=_str(value.get("path")),
            status=_int(value.get("status")),
            request_id=_str(value.get("request_id")),
            fetched_at=_str(value.get("fetched_at")),
            blob=None if blob is None else BlobRef.from_json(blob),
            raw=value,
        )


@dataclass(frozen=True)
class DocumentEntry:
    """A ``documents[]`` entry: the raw response fetch, the text blob, the metadata fetch."""

    id: str
    response: Fetch | None
    text: BlobRef | None
    metadata: Fetch | None


@dataclass(frozen=True)
class FileEntry:
    """A ``files[]`` entry: ``content`` is None when the body was already archived."""

    id: str
    listed_md5: Any
    content: Fetch | None
    blob: BlobRef | None


class Record:
    """Typed, checked access to a parsed project record (the dict stays in ``raw``)."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw

    @classmethod
    def decode(cls, data: bytes, where: str) -> Record:
        return cls(decode_record(data, where))

    # -- scalars ------------------------------------------------------------------------------

    @property
    def project_id(self) -> Any:
        return self.raw.get("project_id")

    @property
    def state(self) -> str | None:
        """``done``, ``partial`` or ``gone`` as written (the index row may say ``carried``)."""
        return _str(self.raw.get("state"))

    @property
    def gone(self) -> bool:
        return self.state == "gone"

    @property
    def fetched_in(self) -> str | None:
        return _str(self.raw.get("fetched_in"))

    @property
    def carried_from(self) -> str | None:
        """Reserved (null) in format 1; a carried row's origin is the record's fetched_in."""
        return _str(self.raw.get("carried_from")) or self.fetched_in

    @property
    def list_entry(self) -> dict[str, Any]:
        entry = self.raw.get("list_entry")
        return entry if isinstance(entry, dict) else {}

    @property
    def failures(self) -> list[dict[str, Any]]:
        return [f for f in _list(self.raw.get("failures"), "failures") if isinstance(f, dict)]

    @property
    def counts(self) -> dict[str, int]:
        """Items found by kind (COUNT_KEYS); ``{}`` for a gone project."""
        counts = self.raw.get("counts")
        if not isinstance(counts, dict):
            return {}
        return {k: int(v) for k, v in counts.items() if isinstance(v, int)}

    # -- fetches ------------------------------------------------------------------------------

    @property
    def list_page(self) -> Fetch | None:
        value = self.raw.get("list_page")
        return None if value is None else Fetch.parse(value, "list_page")

    @property
    def detail(self) -> Fetch | None:
        value = self.raw.get("detail")
        return None if value is None else Fetch.parse(value, "detail")

    @property
    def attachment_pages(self) -> list[Fetch]:
        return self._pages("attachments")

    @property
    def collaborator_pages(self) -> list[Fetch]:
        return self._pages("collaborators")

    def _pages(self, name: str) -> list[Fetch]:
        return [
            Fetch.parse(f, f"{name}[{i}]") for i, f in enumerate(_list(self.raw.get(name), name))
        ]

    @property
    def documents(self) -> list[DocumentEntry]:
        out = []
        for i, doc in enumerate(_list(self.raw.get("documents"), "documents")):
            if not isinstance(doc, dict):
                raise ArchiveError(f"documents[{i}] is not an object")
            response, meta, text = doc.get("response"), doc.get("metadata"), doc.get("text")
            out.append(
                DocumentEntry(
                    id=str(doc.get("id")),
                    response=None
                    if response is None
                    else Fetch.parse(response, f"documents[{i}].response"),
                    text=None if text is None else BlobRef.from_json(text),
                    metadata=None
                    if meta is None
                    else Fetch.parse(meta, f"documents[{i}].metadata"),
                )
            )
        return out

    @property
    def files(self) -> list[FileEntry]:
        out = []
        for i, item in enumerate(_list(self.raw.get("files"), "files")):
            if not isinstance(item, dict):
                raise ArchiveError(f"files[{i}] is not an object")
            content, blob = item.get("content"), item.get("blob")
            out.append(
                FileEntry(
                    id=str(item.get("id")),
                    listed_md5=item.get("listed_md5"),
                    content=None
                    if content is None
                    else Fetch.parse(content, f"files[{i}].content"),
                    blob=None if blob is None else BlobRef.from_json(blob),
                )
            )
        return out

    # -- derived ------------------------------------------------------------------------------

    def bodies(self) -> dict[str, BlobRef]:
        """Attachment id -> its archived body: a document's text or a file's bytes."""
        out: dict[str, BlobRef] = {}
        for doc in self.documents:
            if doc.text is not None:
                out[doc.id] = doc.text
        for f in self.files:
            if f.blob is not None:
                out[f.id] = f.blob
        return out

    def document_responses(self) -> dict[str, BlobRef]:
        """Document id -> the blob of its raw ``documents.get`` response."""
        return {
            d.id: d.response.blob
            for d in self.documents
            if d.response is not None and d.response.blob is not None
        }

    def body_bytes(self) -> int:
        """Sizes of the document texts and file bodies named (the manifest's counts.bytes)."""
        texts = sum(d.text.size for d in self.documents if d.text is not None)
        return texts + sum(f.blob.size for f in self.files if f.blob is not None)

    def blob_refs(self) -> Iterator[tuple[str, BlobRef]]:
        """See :func:`record_blob_refs`."""
        return record_blob_refs(self.raw)


def record_blob_refs(record: Mapping[str, Any]) -> Iterator[tuple[str, BlobRef]]:
    """Every blob a project record refers to, as (where in the record, ref).

    Walks the record's known structure (docs/ARCHIVE.md, "Project records"); the
    ``list_entry`` is API data and is never mistaken for a reference.
    """
    yield from _fetch_blob(record.get("list_page"), "list_page")
    yield from _fetch_blob(record.get("detail"), "detail")
    for name in ("attachments", "collaborators"):
        for i, fetch in enumerate(_list(record.get(name), name)):
            yield from _fetch_blob(fetch, f"{name}[{i}]")
    for i, doc in enumerate(_list(record.get("documents"), "documents")):
        if not isinstance(doc, dict):
            raise ArchiveError(f"documents[{i}] is not an object")
        yield from _fetch_blob(doc.get("response"), f"documents[{i}].response")
        if doc.get("text") is not None:
            yield f"documents[{i}].text", BlobRef.from_json(doc["text"])
        yield from _fetch_blob(doc.get("metadata"), f"documents[{i}].metadata")
    for i, item in enumerate(_list(record.get("files"), "files")):
        if not isinstance(item, dict):
            raise ArchiveError(f"files[{i}] is not an object")
        yield from _fetch_blob(item.get("content"), f"files[{i}].content")
        if item.get("blob") is not None:
            yield f"files[{i}].blob", BlobRef.from_json(item["blob"])


def _fetch_blob(fetch: Any, what: str) -> Iterator[tuple[str, BlobRef]]:
    if fetch is None:
        return
    if not isinstance(fetch, dict):
        raise ArchiveError(f"{what} is not a fetch object")
    if fetch.get("blob") is not None:
        yield what, BlobRef.from_json(fetch["blob"])


def _list(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ArchiveError(f"{what} is not a list")
    return value


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: Any) -> int | None:
    # bool is an int: never let `true` pass for a status.
    return value if isinstance(value, int) and not isinstance(value, bool) else None

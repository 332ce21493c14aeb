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

Reading (everyone else; implemented in ``records_read``, re-exported here)::

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

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from crawler.archive.records_read import (
    COUNT_KEYS,
    TOTAL_KEYS,
    DocumentEntry,
    Fetch,
    FileEntry,
    Record,
    decode_record,
    record_blob_refs,
)
from crawler.archive.refs import BlobRef

__all__ = [
    "COUNT_KEYS",
    "ENDPOINTS",
    "PROJECT_RECORD_STATES",
    "RECORD_FORMAT",
    "TOTAL_KEYS",
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

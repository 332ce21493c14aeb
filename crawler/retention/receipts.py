"""Receipts: the one codec for what ``apply`` did to one item, and how it is stored.

A receipt is a JSON blob (kind ``receipt``, canonical JSON) plus a row in
``retention.sqlite``; the DELETE's response body is a blob of its own (kind
``json``, byte for byte). Write order as everywhere: the blobs are durable
before the row that names them, and the row ends the item's intent in the
same transaction (:meth:`~crawler.retention.store.RetentionStore.add_receipt`).

Shape (``receipt_format`` 1)::

    {"receipt_format": 1, "tool": {...}, "kind": "project" | "document", "id": ...,
     "project_id": ..., "outcome": "deleted" | "already_gone" | "refused" | "failed",
     "reasons": [{"code", "detail"}], "plan_sha256": ..., "snapshot_id": ...,
     "record": {md5, sha256, size}, "text": {...} (documents),
     "intent_at": ... | null, "completed_at": ..., "reconciled": false,
     "request": {"method": "DELETE", "endpoint": ..., "path": ..., "key": "<env var name>"} | null,
     "response": {"status", "request_id", "received_at", "body": {md5, sha256, size} | null,
                  "json": {...} | null, "error_type": ...} | null,
     "confirm": {"method": "GET", "path", "status", "request_id", "at"} | null}

``deleted`` needs a 2xx DELETE (or, ``reconciled``, a DELETE whose answer was
lost to a crash) and a GET answering 404 afterwards. The access keys never
appear: ``request.key`` names the environment variable the key came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from crawler import __version__
from crawler.archive import Archive
from crawler.archive.refs import BlobRef
from crawler.canonical import canonical_json
from crawler.errors import ArchiveError
from crawler.read.reader import ArchiveReader
from crawler.retention.bucket import open_retention_reader
from crawler.retention.plan import PlanItem
from crawler.retention.rules import Reason
from crawler.retention.store import OUTCOMES, RetentionStore

RECEIPT_FORMAT = 1
DELETE_KEY_ENV = "ANTHROPIC_COMPLIANCE_DELETE_KEY"


@dataclass
class Exchange:
    """What was sent and what came back, filled in as the delete goes."""

    request: dict[str, Any] | None = None
    response: dict[str, Any] | None = None
    response_body: bytes | None = None
    confirm: dict[str, Any] | None = None
    reasons: list[Reason] = field(default_factory=list)
    reconciled: bool = False
    intent_at: str | None = None


def build_receipt(
    item: PlanItem, plan_sha256: str, outcome: str, ex: Exchange, completed_at: str
) -> dict[str, Any]:
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}")
    doc: dict[str, Any] = {
        "receipt_format": RECEIPT_FORMAT,
        "tool": {"name": "crawler", "version": __version__},
        "kind": item.kind,
        "id": item.id,
        "project_id": item.project_id,
        "outcome": outcome,
        "reasons": [r.to_json() for r in ex.reasons],
        "plan_sha256": plan_sha256,
        "snapshot_id": item.snapshot_id,
        "record": item.record.to_json(),
        "intent_at": ex.intent_at,
        "completed_at": completed_at,
        "reconciled": ex.reconciled,
        "request": ex.request,
        "response": ex.response,
        "confirm": ex.confirm,
    }
    if item.text is not None:
        doc["text"] = item.text.to_json()
    return doc


async def store_receipt(
    archive: Archive,
    store: RetentionStore,
    item: PlanItem,
    plan_sha256: str,
    outcome: str,
    ex: Exchange,
    completed_at: str,
) -> dict[str, Any]:
    """Blobs first (the response body, then the receipt), then the row."""
    if ex.response is not None and ex.response_body is not None:
        body = await archive.blobs.put(ex.response_body, "json")
        ex.response["body"] = body.ref.to_json()
    receipt = build_receipt(item, plan_sha256, outcome, ex, completed_at)
    stored = await archive.blobs.put(canonical_json(receipt), "receipt")
    store.add_receipt(item.kind, item.id, plan_sha256, outcome, completed_at, stored.ref)
    return receipt


def read_receipt(reader: ArchiveReader, ref: BlobRef) -> dict[str, Any]:
    data = reader.read_blob(ref)
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise ArchiveError(f"receipt {ref.md5} is not valid JSON") from None
    if not isinstance(doc, dict) or doc.get("receipt_format") != RECEIPT_FORMAT:
        raise ArchiveError(f"receipt {ref.md5} is not a receipt (receipt_format 1)")
    return doc


def receipts_by_project(reader: ArchiveReader) -> dict[str, list[dict[str, Any]]]:
    """Every receipt in the archive, by the project it concerns (documents included)."""
    out: dict[str, list[dict[str, Any]]] = {}
    with open_retention_reader(reader.archive) as store:
        rows = store.receipts()
    for row in rows:
        doc = read_receipt(reader, row.blob)
        out.setdefault(str(doc.get("project_id") or row.item_id), []).append(doc)
    return out

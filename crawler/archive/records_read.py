"""The reading half of the project-record codec: typed, checked accessors.

Import these from :mod:`crawler.archive.records` (the codec's face), which
re-exports every name here. Accessors check the shape they rely on and raise
ArchiveError on a malformed record; they never look inside ``list_entry``
(API data, never a reference).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from crawler.archive.refs import BlobRef
from crawler.errors import ArchiveError

__all__ = [
    "COUNT_KEYS",
    "TOTAL_KEYS",
    "DocumentEntry",
    "Fetch",
    "FileEntry",
    "Record",
    "decode_record",
    "record_blob_refs",
]

# The keys of a record's ``counts`` (ARCHIVE.md): what the fetch found, by item.
COUNT_KEYS = ("attachments", "collaborators", "documents", "files")
# A manifest's content counts: COUNT_KEYS summed over the snapshot, plus the bytes
# of the bodies its records name (a body shared by two projects counts twice).
TOTAL_KEYS = ("documents", "files", "collaborators", "attachments", "bytes")


def decode_record(data: bytes, where: str) -> dict[str, Any]:
    """Parse a record's bytes; ArchiveError naming ``where`` if they are not a JSON object."""
    try:
        record = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise ArchiveError(f"{where} is damaged: not valid JSON") from None
    if not isinstance(record, dict):
        raise ArchiveError(f"{where} is damaged: not a JSON object")
    return record


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

    def totals(self) -> dict[str, int]:
        """What this record adds to a manifest's content counts (TOTAL_KEYS)."""
        counts = self.counts
        out = {k: counts.get(k, 0) for k in COUNT_KEYS}
        out["bytes"] = self.body_bytes()
        return out

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

"""The offline read model: one way to open an archive read-only and read it back.

Every offline reader goes through here (export, bag, diff, status, snapshots, and
the search, web view and retention plans to come); none of them opens the index
or spells a record key on its own. Nothing here writes a byte or touches the network.

Public API (stable: other modules build on these names)::

    reader = ArchiveReader.open(path)       # UsageError (exit 2) if not an archive;
    with reader: ...                         #   ArchiveError (exit 1) if damaged
    require_archive(path)                    # the same UsageError, without opening it
    reader.path
    reader.snapshots()        -> list[SnapshotRow]   every snapshot, oldest first
    reader.snapshot(id=None)  -> SnapshotRow          named, or the latest finished
                                                      (UsageError if unknown or none)
    reader.state_counts(id)   -> {state: n}           projects by index state
    reader.manifest(id)       -> dict                 checked against the index's sha256
    reader.rows(id, where=None)     -> Iterator[ProjectRow]   streamed, list order
    reader.row(id, project_id)      -> ProjectRow | None
    reader.project_ids(id, states)  -> [project id]       ids only, by index state
    reader.page(id, ProjectQuery)   -> (rows, total)      one filtered, sorted page
    reader.organizations(id)        -> [organization uuid]
    reader.record(row)              -> Record | None  (archive.records.Record)
    reader.project(row)             -> ProjectData    record + parsed response blobs
    reader.project_with(row, record) -> ProjectData   the same, the record already read
    reader.projects(id, where=None) -> Iterator[ProjectData]
    reader.read_blob(ref)     -> bytes    size and md5 checked
    reader.json_blob(ref)     -> Any      read_blob, parsed
    reader.open_blob(ref)     -> BinaryIO  streamed (the caller checks what it copies)
    reader.hash_blob(ref)     -> (md5, sha256, size)  streamed
    reader.blob_key(ref)      -> str      its key in the store (blobs/ab/<md5>)
    reader.blob_where(ref)    -> str      its path or s3:// URL, for messages
    reader.blob_path(ref)     -> Path     a disk archive's file
    reader.page_items(fetches) -> list    the ``data`` items of stored list pages

``where`` is any ``Callable[[ProjectRow], bool]`` (export's filters are one).
Blob paths are resolved without an index query per read: the few blobs stored
as ``<md5>.<sha256>`` (collisions) are loaded once when the reader opens.
Errors about damage name the project and the blob.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

import orjson

from crawler.archive import Archive, ProjectRow, SnapshotRow, read_marker
from crawler.archive.index import instant_key
from crawler.archive.project_pages import PROJECT_SORTS, ProjectQuery
from crawler.archive.records import Fetch, Record
from crawler.archive.refs import BlobRef
from crawler.archive.store.location import ArchiveLocation, S3Location
from crawler.errors import ArchiveError, UsageError

__all__ = ["ArchiveReader", "ProjectData", "RowFilter", "require_archive"]

RowFilter = Callable[[ProjectRow], bool]


@dataclass
class ProjectData:
    """What the archive holds for one project in one snapshot, parsed from the raw blobs.

    ``details``, ``attachments`` and ``collaborators`` are None when the project has
    no record (state ``listed`` or ``failed``): unknown, not empty.
    """

    row: ProjectRow
    record: Record | None
    details: dict[str, Any] | None
    attachments: list[dict[str, Any]] | None
    collaborators: list[dict[str, Any]] | None
    # attachment id -> body reference: document text or file body
    bodies: dict[str, BlobRef]
    # document id -> reference of the raw document response
    doc_responses: dict[str, BlobRef]

    @property
    def project_id(self) -> str:
        return self.row.project_id

    @property
    def gone(self) -> bool:
        return self.record is not None and self.record.gone

    @property
    def complete(self) -> bool:
        """True when the record exists, so the project's lists are known."""
        return self.record is not None


def require_archive(path: ArchiveLocation) -> None:
    """Refuse, as a usage error (exit 2), a path that is not an archive at all.

    A bucket is checked when it is opened (its marker is an object like the rest).
    """
    if isinstance(path, S3Location):
        return
    if not path.exists():
        raise UsageError(f"archive {path} does not exist")
    if not path.is_dir():
        raise UsageError(f"{path} is not a directory, so not a crawler archive")
    try:
        read_marker(path)  # its "no marker" / "not ours" refusals become usage errors
    except ArchiveError as exc:
        raise UsageError(str(exc)) from None


class ArchiveReader:
    """An archive opened read-only for the offline commands (see the module docstring)."""

    def __init__(self, archive: Archive) -> None:
        self.archive = archive
        self.path = archive.path  # local: the archive directory, or a bucket's cache
        self.location = archive.location  # what a person calls it (a path or s3:// URL)
        self._index = archive.index
        self._store = archive.blobs.store
        # Collisions are rare: knowing them all up front saves a query per blob read.
        self._variants = archive.index.variant_blobs()
        self._up_to: dict[str, list[str]] = {}  # snapshot id -> it and the snapshots before it

    # -- opening ---------------------------------------------------------------------------------

    @classmethod
    def open(cls, path: ArchiveLocation) -> ArchiveReader:
        """Open read-only. Not an archive at all is a usage error (exit 2), damage is exit 1."""
        path = path if isinstance(path, S3Location) else Path(path)
        require_archive(path)
        return cls(Archive.open_for_reading(path))

    def close(self) -> None:
        self.archive.close()

    def __enter__(self) -> ArchiveReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- snapshots -------------------------------------------------------------------------------

    def snapshots(self) -> list[SnapshotRow]:
        """Every snapshot, oldest first."""
        return self._index.list_snapshots()

    def snapshot(self, snapshot_id: str | None = None) -> SnapshotRow:
        """The named snapshot or the latest finished one; missing ones are usage errors."""
        try:
            return self.archive.require_snapshot(snapshot_id)
        except ArchiveError as exc:
            raise UsageError(str(exc)) from None

    def state_counts(self, snapshot_id: str) -> dict[str, int]:
        """How many of the snapshot's projects are in each index state."""
        return self._index.count_projects(snapshot_id)

    def manifest(self, snapshot_id: str) -> dict[str, Any]:
        """The snapshot's manifest, checked against the sha256 the index holds."""
        return self.archive.read_manifest(snapshot_id)

    # -- projects --------------------------------------------------------------------------------

    def rows(
        self,
        snapshot_id: str,
        where: RowFilter | None = None,
        states: Collection[str] | None = None,
    ) -> Iterator[ProjectRow]:
        """The snapshot's index rows (in ``states``, if given) that pass ``where``, in list order."""
        for row in self._index.projects(snapshot_id, states):
            if where is None or where(row):
                yield row

    def activities(self, snapshot: SnapshotRow, project_id: str) -> list[Any]:
        """The feed events naming a project that this snapshot, or any before it, read.

        Once each (by id), oldest first, as the API sent them: who uploaded,
        replaced or deleted what, and when. Empty for archives without the feed.
        """
        earlier = self._up_to.get(snapshot.id)
        if earlier is None:  # once per snapshot, not once per project
            upto = instant_key(snapshot.started_at)
            earlier = [s.id for s in self.snapshots() if instant_key(s.started_at) <= upto]
            self._up_to[snapshot.id] = earlier
        return list(self._index.project_events(project_id, earlier))

    def delta_base(self, snapshot_id: str) -> str | None:
        """A delta snapshot's base (docs/ARCHIVE.md, "Delta snapshots"), else None."""
        base = self._index.delta_base(snapshot_id)
        return None if base is None else base[0]

    def own_rows(self, snapshot_id: str) -> list[ProjectRow]:
        """The rows a delta stores itself (what it changed); a whole snapshot's every row."""
        return self._index.own_projects(snapshot_id)

    def project_ids(self, snapshot_id: str, states: Collection[str]) -> list[str]:
        """The ids of the snapshot's projects in ``states``: no row is parsed."""
        return self._index.project_ids_in(snapshot_id, states)

    def row(self, snapshot_id: str, project_id: str) -> ProjectRow | None:
        return self._index.get_project(snapshot_id, project_id)

    def page(self, snapshot_id: str, query: ProjectQuery) -> tuple[list[ProjectRow], int]:
        """One page of the snapshot's projects (filtered, sorted) and the total that match."""
        if query.sort not in PROJECT_SORTS:
            raise UsageError(f"unknown sort {query.sort!r}: one of {', '.join(PROJECT_SORTS)}")
        return self._index.page_projects(snapshot_id, query)

    def organizations(self, snapshot_id: str) -> list[str]:
        """The organisation uuids the snapshot's projects belong to."""
        return self._index.project_organizations(snapshot_id)

    def record(self, row: ProjectRow) -> Record | None:
        """The project's record (None if it has none); damage names the project and blob."""
        if row.record is None:
            return None
        try:
            data = self.read_blob(row.record)
        except ArchiveError as exc:
            raise ArchiveError(f"project {row.project_id}: record {exc}") from None
        where = f"project {row.project_id}: record blob {row.record.md5}"
        return Record.decode(data, f"{where} ({self.blob_where(row.record)})")

    def project(self, row: ProjectRow) -> ProjectData:
        """Parse a project's record and the response blobs it names."""
        return self.project_with(row, self.record(row))

    def project_with(self, row: ProjectRow, record: Record | None) -> ProjectData:
        """:meth:`project` for a record the caller has already read (``record(row)``)."""
        data = ProjectData(row, record, None, None, None, {}, {})
        if record is None:
            return data
        try:
            detail = record.detail
            if detail is not None and detail.blob is not None:
                details = self.json_blob(detail.blob)
                data.details = details if isinstance(details, dict) else None
            data.attachments = self.page_items(record.attachment_pages)
            data.collaborators = self.page_items(record.collaborator_pages)
            data.bodies = record.bodies()
            data.doc_responses = record.document_responses()
        except ArchiveError as exc:
            raise ArchiveError(f"project {row.project_id}: {exc}") from None
        except (AttributeError, TypeError, ValueError) as exc:  # a record of the wrong shape
            md5 = row.record.md5 if row.record else "?"
            raise ArchiveError(
                f"project {row.project_id}: record blob {md5} is malformed: {exc}"
            ) from None
        return data

    def projects(self, snapshot_id: str, where: RowFilter | None = None) -> Iterator[ProjectData]:
        """Each project of the snapshot that passes ``where``, parsed; one at a time."""
        for row in self.rows(snapshot_id, where):
            yield self.project(row)

    def page_items(self, fetches: Iterable[Fetch]) -> list[Any]:
        """The ``data`` items of stored list pages, in order."""
        items: list[Any] = []
        for fetch in fetches:
            if fetch.blob is None:
                continue
            page = self.json_blob(fetch.blob)
            data = page.get("data") if isinstance(page, dict) else None
            if not isinstance(data, list):
                raise ArchiveError(f"blob {fetch.blob.md5} is not a list page (no 'data' list)")
            items.extend(data)
        return items

    # -- blobs -----------------------------------------------------------------------------------

    def blob_key(self, ref: BlobRef) -> str:
        """The blob's key in the archive's store (``blobs/ab/<md5>``)."""
        return self._store.key_of(ref, (ref.md5, ref.sha256) in self._variants)

    def blob_where(self, ref: BlobRef) -> str:
        """Where a person finds the blob: its path, or its s3:// URL."""
        return self._store.where(self.blob_key(ref))

    def blob_path(self, ref: BlobRef) -> Path:
        """A disk archive's file for the blob (an S3 archive has none: see blob_key)."""
        return self._store.path_of(ref, (ref.md5, ref.sha256) in self._variants)

    def read_blob(self, ref: BlobRef) -> bytes:
        """A blob's bytes, refused unless their size and md5 are the ones ``ref`` names."""
        key = self.blob_key(ref)
        data = self._store.read(key, ref)
        if hashlib.md5(data).hexdigest() != ref.md5:
            raise ArchiveError(
                f"blob {ref.md5} is damaged ({self._store.where(key)}): "
                "its bytes do not match their md5"
            )
        return data

    def hash_blob(self, ref: BlobRef) -> tuple[str, str, int]:
        """(md5, sha256, size) of the stored bytes, streamed from the store."""
        md5, sha, size = hashlib.md5(), hashlib.sha256(), 0
        with self.open_blob(ref) as f:
            while chunk := f.read(1 << 20):
                md5.update(chunk)
                sha.update(chunk)
                size += len(chunk)
        return md5.hexdigest(), sha.hexdigest(), size

    def json_blob(self, ref: BlobRef) -> Any:
        data = self.read_blob(ref)
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            raise ArchiveError(
                f"blob {ref.md5} is damaged ({self.blob_where(ref)}): not valid JSON"
            ) from None

    def open_blob(self, ref: BlobRef) -> BinaryIO:
        """The blob's bytes as a stream; the caller checks the bytes it copies."""
        return self._store.open(self.blob_key(ref), ref)

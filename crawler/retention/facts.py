"""What the archive holds of a project or a document, and whether it is whole. Offline.

Read through the one read model (:class:`~crawler.read.reader.ArchiveReader`).
For a project: the newest finished snapshot that lists it, its record, and
whether that record preserves everything (state ``done``, every listed
document's text and every listed file's body present). For a document: the
newest finished snapshot whose records hold it. Plus a full re-hash (md5 and
sha256 of the bytes on disk) of every blob a record relies on.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from crawler.archive.index import FINISHED_STATUSES, ProjectRow, SnapshotRow, instant_key
from crawler.archive.records import DocumentEntry, Record
from crawler.archive.refs import BlobRef
from crawler.errors import ArchiveError
from crawler.read.reader import ArchiveReader, ProjectData


@dataclass(frozen=True)
class Archived:
    """One project as a finished snapshot preserves it.

    ``data`` is None when the record parses but a response it names does not
    (a damaged blob): the project is then refused, and the re-hash says why.
    """

    snapshot_id: str
    row: ProjectRow
    record_ref: BlobRef
    parsed: Record
    data: ProjectData | None

    def detail(self) -> dict[str, Any]:
        if self.data is None or self.data.details is None:
            raise ArchiveError(f"project {self.row.project_id}: no readable archived detail")
        return self.data.details

    def attachments(self) -> list[dict[str, Any]]:
        items = self.data.attachments if self.data is not None else None
        return [a for a in items or [] if isinstance(a, dict)]

    @property
    def fetched_at(self) -> str | None:
        """When the detail was read: changes after this are changes since the snapshot."""
        try:
            detail = self.parsed.detail
        except ArchiveError:
            return None
        return detail.fetched_at if detail is not None else None


@dataclass(frozen=True)
class ArchivedDocument:
    project: Archived
    entry: DocumentEntry
    text: BlobRef

    @property
    def fetched_at(self) -> str | None:
        return self.entry.response.fetched_at if self.entry.response else None

    def refs(self) -> list[BlobRef]:
        refs = [self.text]
        for fetch in (self.entry.response, self.entry.metadata):
            if fetch is not None and fetch.blob is not None:
                refs.append(fetch.blob)
        return refs


class ArchiveFacts:
    """Offline lookups against one open archive; records and hashes are cached."""

    def __init__(self, reader: ArchiveReader) -> None:
        self.reader = reader
        snaps = [s for s in reader.snapshots() if s.status in FINISHED_STATUSES]
        self.finished: list[SnapshotRow] = list(reversed(snaps))  # newest first
        self._hashed: dict[tuple[str, str], str | None] = {}
        self._doc_maps: dict[str, dict[str, ArchivedDocument]] = {}
        self._judged: dict[tuple[str, str], tuple[Archived | None, str | None]] = {}

    def project(self, project_id: str) -> tuple[Archived | None, str | None]:
        """(the archived project, None) or (None or partial, why it is not whole)."""
        for snap in self.finished:
            row = self.reader.row(snap.id, project_id)
            if row is not None:
                return self._judge(snap, row)
        return None, "in no finished snapshot"

    def project_at(
        self, snapshot_id: str, project_id: str, record: BlobRef
    ) -> tuple[Archived | None, str | None]:
        """The project as a plan relied on it: that snapshot, that very record."""
        snap = next((s for s in self.finished if s.id == snapshot_id), None)
        row = self.reader.row(snapshot_id, project_id) if snap else None
        if snap is None or row is None:
            return None, f"snapshot {snapshot_id} no longer holds it finished"
        if row.record != record:
            return None, f"its record in snapshot {snapshot_id} is not the one the plan names"
        return self._judge(snap, row)

    def _judge(self, snap: SnapshotRow, row: ProjectRow) -> tuple[Archived | None, str | None]:
        """Read and judge a row's record once per run: plan and apply ask again per item."""
        key = (snap.id, row.project_id)
        if key not in self._judged:
            self._judged[key] = self._read_and_judge(snap, row)
        return self._judged[key]

    def _read_and_judge(
        self, snap: SnapshotRow, row: ProjectRow
    ) -> tuple[Archived | None, str | None]:
        where = f"snapshot {snap.id}"
        if row.record is None:
            return None, f"state {row.state} in {where}, no record"
        try:
            record = self.reader.record(row)
        except ArchiveError as exc:
            return None, f"its record in {where} cannot be read: {exc}"
        if record is None:
            return None, f"state {row.state} in {where}, no record"
        try:
            data: ProjectData | None = self.reader.project_with(row, record)
        except ArchiveError as exc:
            archived = Archived(snap.id, row, row.record, record, None)
            return archived, f"a response its record names cannot be read in {where}: {exc}"
        archived = Archived(snap.id, row, row.record, record, data)
        state = record.state
        if row.state not in ("done", "carried") or state != "done":
            return archived, f"state {state or row.state} in {where}"
        missing = _missing_bodies(archived, snap)
        return archived, (f"{missing} in {where}" if missing else None)

    # -- documents ---------------------------------------------------------------------------

    def document(self, document_id: str) -> tuple[ArchivedDocument | None, str | None]:
        for snap in self.finished:
            found = self._documents_of(snap).get(document_id)
            if found is not None:
                return found, None
        return None, "in no finished snapshot"

    def document_at(
        self, snapshot_id: str, project_id: str, document_id: str, record: BlobRef
    ) -> tuple[ArchivedDocument | None, str | None]:
        """The document as a plan relied on it: its project's record in that snapshot only."""
        snap = next((s for s in self.finished if s.id == snapshot_id), None)
        row = self.reader.row(snapshot_id, project_id) if snap else None
        if snap is not None and row is not None and row.record != record:
            return None, f"its record in snapshot {snapshot_id} is not the one the plan names"
        found = self._documents_in(snap, row).get(document_id) if snap and row else None
        if found is None:
            return None, f"snapshot {snapshot_id} no longer holds it finished"
        return found, None

    def _documents_of(self, snap: SnapshotRow) -> dict[str, ArchivedDocument]:
        """Every archived document of a snapshot (a plan by document id knows no project)."""
        cached = self._doc_maps.get(snap.id)
        if cached is None:
            cached = {}
            for row in self.reader.rows(snap.id):
                cached.update(self._documents_in(snap, row))
            self._doc_maps[snap.id] = cached
        return cached

    def _documents_in(self, snap: SnapshotRow, row: ProjectRow) -> dict[str, ArchivedDocument]:
        """The documents, with their text, that one project row's record holds."""
        if row.record is None:
            return {}
        try:
            record = self.reader.record(row)
        except ArchiveError:
            return {}  # a damaged record preserves nothing: its documents are not found
        if record is None:
            return {}
        project = Archived(snap.id, row, row.record, record, None)
        return {
            e.id: ArchivedDocument(project, e, e.text)
            for e in record.documents
            if e.text is not None
        }

    # -- re-hash -----------------------------------------------------------------------------

    def rehash_project(self, archived: Archived) -> list[str]:
        """Problems re-hashing the record and every blob it refers to (empty: sound)."""
        try:
            refs = [archived.record_ref, *(ref for _, ref in archived.parsed.blob_refs())]
        except ArchiveError as exc:
            return [f"record {archived.record_ref.md5} is malformed: {exc}"]
        return self._rehash(refs)

    def rehash_document(self, found: ArchivedDocument) -> list[str]:
        return self._rehash([found.project.record_ref, *found.refs()])

    def _rehash(self, refs: list[BlobRef]) -> list[str]:
        problems = []
        for ref in refs:
            key = (ref.md5, ref.sha256)
            if key not in self._hashed:
                self._hashed[key] = self._hash_problem(ref)
            if self._hashed[key]:
                problems.append(str(self._hashed[key]))
        return problems

    def _hash_problem(self, ref: BlobRef) -> str | None:
        try:
            md5, sha, size = self.reader.hash_blob(ref)
        except ArchiveError as exc:
            return str(exc) if "missing" not in str(exc) else f"blob {ref.md5} is missing"
        except OSError as exc:
            return f"blob {ref.md5} cannot be read: {exc.strerror}"
        if (md5, sha, size) != (ref.md5, ref.sha256, ref.size):
            return f"blob {ref.md5} is damaged (rehashed md5 {md5}, {size} bytes)"
        return None


def oldest_fetch(found: Iterable[Archived | ArchivedDocument | None]) -> str | None:
    """The earliest time any of these was read: the feed is watched from there."""
    times = [f.fetched_at for f in found if f is not None and f.fetched_at]
    return min(times, key=instant_key) if times else None


def _missing_bodies(archived: Archived, snap: SnapshotRow) -> str | None:
    bodies = archived.parsed.bodies()
    listed = archived.attachments()
    no_doc = [a.get("id") for a in listed if a.get("type") == "project_doc"]
    no_doc = [i for i in no_doc if i not in bodies]
    no_file = [a.get("id") for a in listed if a.get("type") == "project_file"]
    no_file = [i for i in no_file if i not in bodies]
    if no_doc:
        return f"{len(no_doc)} document texts not archived"
    if no_file:
        why = " (snapshot taken with --no-files)" if snap.settings.get("files") is False else ""
        return f"{len(no_file)} file bodies not archived{why}"
    return None

"""What the archive holds of a project or a document, and whether it is whole. Offline.

For a project: the newest finished snapshot that lists it, its record, and
whether that record preserves everything (state ``done``, every listed
document's text and every listed file's body present). For a document: the
newest finished snapshot whose records hold it. Plus a full re-hash (md5 and
sha256 of the bytes on disk) of every blob a record relies on.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from crawler.archive import Archive
from crawler.archive.blobs import MD5_RE, SHA256_RE, BlobRef, hash_file
from crawler.archive.index import FINISHED_STATUSES, ProjectRow, SnapshotRow
from crawler.errors import ArchiveError


@dataclass(frozen=True)
class Archived:
    """One project as a finished snapshot preserves it."""

    snapshot_id: str
    row: ProjectRow
    record: dict[str, Any]
    record_ref: BlobRef

    def detail(self, archive: Archive) -> dict[str, Any]:
        return _json_object(archive, (self.record.get("detail") or {}).get("blob"))

    def attachments(self, archive: Archive) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for fetch in self.record.get("attachments") or []:
            page = _json_object(archive, fetch.get("blob"))
            items += [i for i in page.get("data") or [] if isinstance(i, dict)]
        return items

    @property
    def fetched_at(self) -> str | None:
        """When the detail was read: changes after this are changes since the snapshot."""
        value = (self.record.get("detail") or {}).get("fetched_at")
        return value if isinstance(value, str) else None


@dataclass(frozen=True)
class ArchivedDocument:
    project: Archived
    entry: dict[str, Any]  # the record's documents[] entry
    text: BlobRef


class ArchiveFacts:
    """Offline lookups against one open archive; records and hashes are cached."""

    def __init__(self, archive: Archive) -> None:
        self.archive = archive
        snaps = [s for s in archive.index.list_snapshots() if s.status in FINISHED_STATUSES]
        self.finished: list[SnapshotRow] = list(reversed(snaps))  # newest first
        self._hashed: dict[tuple[str, str], str | None] = {}
        self._doc_maps: dict[str, dict[str, ArchivedDocument]] = {}

    def project(self, project_id: str) -> tuple[Archived | None, str | None]:
        """(the archived project, None) or (None or partial, why it is not whole)."""
        for snap in self.finished:
            row = self.archive.index.get_project(snap.id, project_id)
            if row is None:
                continue
            return self._judge(snap, row)
        return None, "in no finished snapshot"

    def project_at(
        self, snapshot_id: str, project_id: str, record: BlobRef
    ) -> tuple[Archived | None, str | None]:
        """The project as a plan relied on it: that snapshot, that very record."""
        snap = next((s for s in self.finished if s.id == snapshot_id), None)
        row = self.archive.index.get_project(snapshot_id, project_id) if snap else None
        if snap is None or row is None:
            return None, f"snapshot {snapshot_id} no longer holds it finished"
        if row.record != record:
            return None, f"its record in snapshot {snapshot_id} is not the one the plan names"
        return self._judge(snap, row)

    def document_at(
        self, snapshot_id: str, document_id: str, record: BlobRef
    ) -> tuple[ArchivedDocument | None, str | None]:
        snap = next((s for s in self.finished if s.id == snapshot_id), None)
        found = self._documents_of(snap).get(document_id) if snap else None
        if found is None:
            return None, f"snapshot {snapshot_id} no longer holds it finished"
        if found.project.record_ref != record:
            return None, f"its record in snapshot {snapshot_id} is not the one the plan names"
        return found, None

    def _judge(self, snap: SnapshotRow, row: ProjectRow) -> tuple[Archived | None, str | None]:
        where = f"snapshot {snap.id}"
        if row.record is None:
            return None, f"state {row.state} in {where}, no record"
        try:
            record = self.archive.read_record(row.record)
        except ArchiveError as exc:
            return None, f"its record in {where} cannot be read: {exc}"
        archived = Archived(snap.id, row, record, row.record)
        if row.state not in ("done", "carried") or record.get("state") != "done":
            return archived, f"state {record.get('state') or row.state} in {where}"
        missing = self._missing_bodies(archived, snap)
        return archived, (f"{missing} in {where}" if missing else None)

    def _missing_bodies(self, archived: Archived, snap: SnapshotRow) -> str | None:
        try:
            listed = archived.attachments(self.archive)
        except ArchiveError as exc:
            return f"attachment pages unreadable: {exc}"
        docs = {d.get("id") for d in archived.record.get("documents") or [] if d.get("text")}
        files = {f.get("id") for f in archived.record.get("files") or [] if f.get("blob")}
        no_doc = [a.get("id") for a in listed if a.get("type") == "project_doc"]
        no_doc = [i for i in no_doc if i not in docs]
        no_file = [a.get("id") for a in listed if a.get("type") == "project_file"]
        no_file = [i for i in no_file if i not in files]
        if no_doc:
            return f"{len(no_doc)} document texts not archived"
        if no_file:
            no_files_run = snap.settings.get("files") is False
            why = " (snapshot taken with --no-files)" if no_files_run else ""
            return f"{len(no_file)} file bodies not archived{why}"
        return None

    # -- documents ---------------------------------------------------------------------------

    def document(self, document_id: str) -> tuple[ArchivedDocument | None, str | None]:
        for snap in self.finished:
            found = self._documents_of(snap).get(document_id)
            if found is not None:
                return found, None
        return None, "in no finished snapshot"

    def _documents_of(self, snap: SnapshotRow) -> dict[str, ArchivedDocument]:
        cached = self._doc_maps.get(snap.id)
        if cached is not None:
            return cached
        out: dict[str, ArchivedDocument] = {}
        for row in self.archive.index.projects(snap.id):
            if row.record is None:
                continue
            try:
                record = self.archive.read_record(row.record)
            except ArchiveError:
                continue
            project = Archived(snap.id, row, record, row.record)
            for entry in record.get("documents") or []:
                text = entry.get("text")
                if isinstance(entry.get("id"), str) and isinstance(text, dict):
                    out[entry["id"]] = ArchivedDocument(project, entry, BlobRef.from_json(text))
        self._doc_maps[snap.id] = out
        return out

    # -- re-hash -----------------------------------------------------------------------------

    def rehash(self, record_ref: BlobRef, record: dict[str, Any]) -> list[str]:
        """Problems found re-hashing the record and every blob it refers to (empty: sound)."""
        problems = []
        for ref in [record_ref, *refs_in(record)]:
            problem = self._rehash_one(ref)
            if problem:
                problems.append(problem)
        return problems

    def _rehash_one(self, ref: BlobRef) -> str | None:
        key = (ref.md5, ref.sha256)
        if key not in self._hashed:
            self._hashed[key] = self._hash_problem(ref)
        return self._hashed[key]

    def _hash_problem(self, ref: BlobRef) -> str | None:
        path = self.archive.blobs.path_of(ref)
        try:
            md5, sha, size = hash_file(path)
        except FileNotFoundError:
            return f"blob {ref.md5} is missing"
        except OSError as exc:
            return f"blob {ref.md5} cannot be read: {exc.strerror}"
        if (md5, sha, size) != (ref.md5, ref.sha256, ref.size):
            return f"blob {ref.md5} is damaged (rehashed md5 {md5}, {size} bytes)"
        return None


def refs_in(value: Any) -> Iterator[BlobRef]:
    """Every blob reference in a record, wherever it sits (fetches, texts, file bodies)."""
    if isinstance(value, dict):
        md5, sha, size = value.get("md5"), value.get("sha256"), value.get("size")
        if (
            isinstance(md5, str)
            and MD5_RE.fullmatch(md5)
            and isinstance(sha, str)
            and SHA256_RE.fullmatch(sha)
            and isinstance(size, int)
            and len(value) == 3
        ):
            yield BlobRef(md5, sha, size)
            return
        for v in value.values():
            yield from refs_in(v)
    elif isinstance(value, list):
        for v in value:
            yield from refs_in(v)


def _json_object(archive: Archive, ref: Any) -> dict[str, Any]:
    if not isinstance(ref, dict):
        raise ArchiveError("a fetch in the record has no blob")
    data = archive.blobs.read(BlobRef.from_json(ref))
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise ArchiveError(f"blob {ref.get('md5')} is not JSON") from None
    if not isinstance(doc, dict):
        raise ArchiveError(f"blob {ref.get('md5')} is not a JSON object")
    return doc

"""Reading a snapshot back as connector-shaped project records, and writing exports.

Everything here reads an archive and never touches the network. Used by
``crawler export`` (NDJSON, optionally gzipped, with file bodies and a manifest),
``crawler export --bag`` (see :mod:`crawler.bag`), ``crawler diff`` (see
:mod:`crawler.diff`) and ``crawler verify-export``.

The exported record (one NDJSON line per project) is the existing connector's
shape (docs: /work/shared/API.md, last section), extended:

* every field of the project's list entry, as the API sent it (unknown ones kept);
* ``details``: the detail response, parsed from its raw blob (``null`` if the
  project was gone, i.e. the detail answered 404, or was never fetched);
* ``attachments``: every attachment entry as listed, each extended with
  ``archived`` (bool: is its body in the archive?) and ``archived_body``
  (``{"md5", "sha256", "size_bytes"}`` of the archived document text or file
  body, else ``null``). ``md5`` and ``size_bytes`` are added *only where the API
  sent no such key* (always for documents, whose listing has none): a value the
  API sent, even ``null`` or a stale md5, is never overwritten.
  ``--include-content`` adds ``content`` (the document response object) to each
  archived document; ``--files-dir`` adds ``exported_file`` (path relative to the
  NDJSON file's directory) to each file whose body was copied out;
* ``collaborators``: every collaborator entry as listed;
* ``gone``: true when the detail answered 404 (the project was hard-deleted
  between the list and the fetch). Its list fields are kept, ``details`` is
  ``null``, ``attachments`` and ``collaborators`` are ``[]`` (a hard delete removes
  them upstream);
* ``_archive``: provenance: snapshot id, project state, the snapshot it was
  fetched in, ``carried_from``, the record blob, and the project's failures.
  A project whose record is missing (state ``failed`` or ``listed`` in a partial
  or running snapshot) has ``details``, ``attachments`` and ``collaborators``
  ``null``: unknown, not empty.

Projects soft-deleted in claude.ai (``deleted_at`` set) are exported like any
other unless ``--exclude-deleted`` is given.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import os
import secrets
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Protocol

import orjson

from crawler import __version__
from crawler.archive import MARKER, Archive, read_marker
from crawler.archive.blobs import BlobRef, fsync_dir
from crawler.archive.index import ProjectRow, SnapshotRow, instant_key
from crawler.errors import ArchiveError, CrawlerError, UsageError

EXPORT_FORMAT = 1
_CHUNK = 1024 * 1024
# Keys this tool adds to the connector's record and to attachment entries.
RECORD_EXTENSIONS = ("details", "attachments", "collaborators", "gone", "_archive")
ATTACHMENT_EXTENSIONS = ("archived", "archived_body", "content", "exported_file")


# -- opening an archive for the offline commands ----------------------------------------------


def open_archive(path: Path) -> Archive:
    """Open read-only. Not an archive at all is a usage error (exit 2), damage is exit 1."""
    if not path.exists():
        raise UsageError(f"archive {path} does not exist")
    if not path.is_dir():
        raise UsageError(f"{path} is not a directory, so not a crawler archive")
    if not (path / MARKER).exists():
        raise UsageError(f"{path} is not a crawler archive (no {MARKER} marker)")
    try:
        read_marker(path)
    except ArchiveError as exc:
        raise UsageError(str(exc)) from None
    return Archive.open_for_reading(path)


def pick_snapshot(archive: Archive, snapshot_id: str | None) -> SnapshotRow:
    """The named snapshot or the latest finished one; missing ones are usage errors."""
    try:
        return archive.require_snapshot(snapshot_id)
    except ArchiveError as exc:
        raise UsageError(str(exc)) from None


# -- reading blobs, checked ---------------------------------------------------------------------


def read_checked(archive: Archive, ref: BlobRef) -> bytes:
    """A blob's bytes, refused unless their md5 is the one the reference names."""
    data = archive.blobs.read(ref)
    if hashlib.md5(data).hexdigest() != ref.md5:
        raise ArchiveError(
            f"blob {ref.md5} is damaged ({archive.blobs.path_of(ref)}): its bytes do not "
            "match their md5"
        )
    return data


def _ref(value: Any) -> BlobRef | None:
    return None if value is None else BlobRef.from_json(value)


def _json_blob(archive: Archive, ref: BlobRef) -> Any:
    data = read_checked(archive, ref)
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        raise ArchiveError(
            f"blob {ref.md5} is damaged ({archive.blobs.path_of(ref)}): not valid JSON"
        ) from None


def load_record(archive: Archive, row: ProjectRow) -> dict[str, Any] | None:
    """The project's record (None if it has none); damage names the project and blob."""
    if row.record is None:
        return None
    try:
        data = read_checked(archive, row.record)
        record = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise ArchiveError(
            f"project {row.project_id}: record blob {row.record.md5} is damaged "
            f"({archive.blobs.path_of(row.record)}): not valid JSON"
        ) from None
    except ArchiveError as exc:
        raise ArchiveError(f"project {row.project_id}: record {exc}") from None
    if not isinstance(record, dict):
        raise ArchiveError(
            f"project {row.project_id}: record blob {row.record.md5} is damaged: not an object"
        )
    return record


# -- one project, parsed ------------------------------------------------------------------------


@dataclass
class ProjectData:
    """What the archive holds for one project in one snapshot, parsed from the raw blobs."""

    row: ProjectRow
    record: dict[str, Any] | None
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
        return self.record is not None and self.record.get("state") == "gone"

    @property
    def complete(self) -> bool:
        """True when the record exists, so the project's lists are known."""
        return self.record is not None


def load_project(archive: Archive, row: ProjectRow) -> ProjectData:
    """Parse a project's record and the response blobs it names."""
    record = load_record(archive, row)
    data = ProjectData(row, record, None, None, None, {}, {})
    if record is None:
        return data
    pid = row.project_id
    try:
        detail = record.get("detail") or {}
        detail_ref = _ref(detail.get("blob"))
        if detail_ref is not None:
            details = _json_blob(archive, detail_ref)
            data.details = details if isinstance(details, dict) else None
        data.attachments = _page_items(archive, record.get("attachments") or [])
        data.collaborators = _page_items(archive, record.get("collaborators") or [])
        for doc in record.get("documents") or []:
            text = _ref(doc.get("text"))
            if text is not None:
                data.bodies[str(doc.get("id"))] = text
            response = _ref((doc.get("response") or {}).get("blob"))
            if response is not None:
                data.doc_responses[str(doc.get("id"))] = response
        for f in record.get("files") or []:
            body = _ref(f.get("blob"))
            if body is not None:
                data.bodies[str(f.get("id"))] = body
    except ArchiveError as exc:
        raise ArchiveError(f"project {pid}: {exc}") from None
    except (AttributeError, TypeError) as exc:  # a record of the wrong shape
        raise ArchiveError(
            f"project {pid}: record blob {row.record.md5 if row.record else '?'} is malformed: {exc}"
        ) from None
    return data


def _page_items(archive: Archive, fetches: list[dict[str, Any]]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for fetch in fetches:
        ref = _ref(fetch.get("blob"))
        if ref is None:
            continue
        page = _json_blob(archive, ref)
        data = page.get("data") if isinstance(page, dict) else None
        if not isinstance(data, list):
            raise ArchiveError(f"blob {ref.md5} is not a list page (no 'data' list)")
        items.extend(data)
    return items


# -- the exported record ------------------------------------------------------------------------


def export_record(
    archive: Archive,
    data: ProjectData,
    *,
    include_content: bool,
    exported_file: Callable[[BlobRef], str] | None = None,
) -> dict[str, Any]:
    """The connector-shaped record of one project (see the module docstring)."""
    row, record = data.row, data.record
    out: dict[str, Any] = dict(row.list_entry)
    out["details"] = data.details
    attachments: list[dict[str, Any]] | None = None
    if data.attachments is not None:
        attachments = []
        for entry in data.attachments:
            att = dict(entry) if isinstance(entry, dict) else {"value": entry}
            aid = str(att.get("id"))
            body = data.bodies.get(aid)
            if body is not None:
                # Never overwrite what the API sent, even null: only fill a missing key.
                att.setdefault("md5", body.md5)
                att.setdefault("size_bytes", body.size)
                att["archived"] = True
                att["archived_body"] = {
                    "md5": body.md5,
                    "sha256": body.sha256,
                    "size_bytes": body.size,
                }
            else:
                att["archived"] = False
                att["archived_body"] = None
            kind = att.get("type")
            if include_content and kind == "project_doc" and aid in data.doc_responses:
                try:
                    att["content"] = _json_blob(archive, data.doc_responses[aid])
                except ArchiveError as exc:
                    raise ArchiveError(
                        f"project {data.project_id}: document {aid}: {exc}"
                    ) from None
            if exported_file is not None and kind == "project_file" and body is not None:
                try:
                    att["exported_file"] = exported_file(body)
                except ArchiveError as exc:
                    raise ArchiveError(f"project {data.project_id}: file {aid}: {exc}") from None
            attachments.append(att)
    out["attachments"] = attachments
    out["collaborators"] = data.collaborators
    out["gone"] = data.gone
    if data.gone:
        # A hard delete removes the project's documents, files and grants upstream.
        out["attachments"], out["collaborators"] = [], []
    out["_archive"] = {
        "snapshot_id": row.snapshot_id,
        "state": row.state,
        "fetched_in": record.get("fetched_in") if record else None,
        # The pipeline carries a project by reusing the earlier record as is, so the
        # record's own carried_from stays null: name the snapshot it was fetched in.
        "carried_from": (
            (record.get("carried_from") or record.get("fetched_in"))
            if record and row.state == "carried"
            else None
        ),
        "record": row.record.to_json() if row.record else None,
        "failures": record.get("failures", []) if record else [],
    }
    return out


# -- filters ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportFilters:
    """Which projects of a snapshot to export. Every filter given must match."""

    orgs: tuple[str, ...] = ()  # tagged org id or organization UUID
    users: tuple[str, ...] = ()  # creator's user id or email address
    since: str | None = None  # created_at >= since (as instants)
    until: str | None = None  # created_at < until
    exclude_deleted: bool = False

    def matches(self, row: ProjectRow) -> bool:
        if self.orgs and not (
            row.organization_id in self.orgs or row.organization_uuid in self.orgs
        ):
            return False
        if self.users and row.user_id not in self.users:
            # Email addresses are case-insensitive in practice; ids are not.
            email = (row.user_email or "").lower()
            if not email or email not in (u.lower() for u in self.users):
                return False
        # Compare as instants, whatever RFC 3339 form the API or the user wrote.
        created = instant_key(row.created_at)
        if self.since is not None and created < instant_key(self.since):
            return False
        if self.until is not None and created >= instant_key(self.until):
            return False
        return not (self.exclude_deleted and row.deleted_at is not None)

    def to_json(self) -> dict[str, Any]:
        return {
            "organization_ids": list(self.orgs),
            "users": list(self.users),
            "created_at_gte": self.since,
            "created_at_lt": self.until,
            "exclude_deleted": self.exclude_deleted,
        }


# -- writing files: atomic, hashed while written --------------------------------------------------


@dataclass(frozen=True)
class WrittenFile:
    """One file an export wrote: its path (relative to the export's base) and hashes."""

    path: str
    md5: str
    sha256: str
    size: int

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "md5": self.md5, "sha256": self.sha256, "size": self.size}


def _os_error(exc: OSError, action: str, path: Path) -> CrawlerError:
    return UsageError(f"cannot {action} {path}: {exc.strerror or exc}")


class AtomicFile(io.RawIOBase):
    """A file that appears under its name only when committed (tmp, fsync, rename).

    Hashes (md5, sha256) and counts the bytes as they are written, so an export never
    reads its own output back. Usable as a binary stream, e.g. under ``gzip``.
    """

    def __init__(self, dest: Path) -> None:
        super().__init__()
        self.dest = dest
        self.tmp = dest.with_name(f".{dest.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
        try:
            # Owned by this object until commit() or abort(): no context manager fits.
            self._f: IO[bytes] = open(self.tmp, "xb")  # noqa: SIM115
        except OSError as exc:
            raise _os_error(exc, "write", dest) from None
        self._md5 = hashlib.md5()
        self._sha = hashlib.sha256()
        self.size = 0
        self._finished = False

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        self._md5.update(view)
        self._sha.update(view)
        try:
            self._f.write(view)
        except OSError as exc:
            raise _os_error(exc, "write", self.dest) from None
        self.size += len(view)
        return len(view)

    def commit(self) -> tuple[str, str, int]:
        """Make the file durable under its name; returns (md5, sha256, size)."""
        try:
            self._f.flush()
            os.fsync(self._f.fileno())
            self._f.close()
            os.replace(self.tmp, self.dest)
            fsync_dir(self.dest.parent)
        except OSError as exc:
            self.abort()
            raise _os_error(exc, "write", self.dest) from None
        self._finished = True
        return self._md5.hexdigest(), self._sha.hexdigest(), self.size

    def abort(self) -> None:
        if self._finished:
            return
        self._finished = True
        try:
            self._f.close()
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.tmp)


def write_atomic(dest: Path, data: bytes) -> tuple[str, str, int]:
    out = AtomicFile(dest)
    try:
        out.write(data)
    except BaseException:
        out.abort()
        raise
    return out.commit()


class FilesDir:
    """File bodies copied out of the archive as ``<dir>/<sha256>``: never an API filename.

    Each distinct body is written once (a set of sha256s: memory grows with distinct
    bodies, not with projects), streamed and rehashed on the way, so a damaged blob is
    refused rather than exported.
    """

    def __init__(self, archive: Archive, directory: Path, base: Path) -> None:
        self.archive = archive
        self.directory = directory
        self.base = base
        self.written: list[WrittenFile] = []
        self._seen: dict[str, str] = {}
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _os_error(exc, "create", directory) from None

    def relative(self, name: str) -> str:
        return os.path.relpath(self.directory / name, self.base)

    def copy(self, ref: BlobRef) -> str:
        """Copy one body out (once); its path relative to the export's base."""
        if ref.sha256 in self._seen:
            return self._seen[ref.sha256]
        dest = self.directory / ref.sha256
        out = AtomicFile(dest)
        try:
            with self.archive.blobs.open(ref) as src:
                while chunk := src.read(_CHUNK):
                    out.write(chunk)
            if out.size != ref.size or out._md5.hexdigest() != ref.md5:
                raise ArchiveError(
                    f"blob {ref.md5} is damaged ({self.archive.blobs.path_of(ref)}): "
                    "its bytes do not match their reference"
                )
        except BaseException:
            out.abort()
            raise
        md5, sha, size = out.commit()
        rel = self.relative(ref.sha256)
        self.written.append(WrittenFile(rel, md5, sha, size))
        self._seen[ref.sha256] = rel
        return rel


class ByteSink(Protocol):
    def write(self, data: bytes, /) -> int: ...


# -- the export ---------------------------------------------------------------------------------


@dataclass
class ExportOptions:
    snapshot_id: str | None = None
    filters: ExportFilters = field(default_factory=ExportFilters)
    include_content: bool = False
    files_dir: Path | None = None


@dataclass
class ExportResult:
    """What one export wrote and counted; ``manifest()`` is the recipient's checklist."""

    archive: Path
    snapshot: SnapshotRow
    options: ExportOptions
    ndjson: WrittenFile | None  # None when streamed to stdout
    files: list[WrittenFile]
    counts: dict[str, int]
    created_at: str
    gzip: bool = False
    files_dir: str | None = None

    def manifest(self, extra_files: list[WrittenFile] | None = None) -> dict[str, Any]:
        snap = self.snapshot
        written = ([self.ndjson] if self.ndjson else []) + self.files + (extra_files or [])
        return {
            "export_format": EXPORT_FORMAT,
            "tool": {"name": "crawler", "version": __version__},
            "created_at": self.created_at,
            "archive": str(self.archive),
            "snapshot": {
                "id": snap.id,
                "status": snap.status,
                "incremental": snap.incremental,
                "parent_id": snap.parent_id,
                "filters": snap.filters,
                "started_at": snap.started_at,
                "finished_at": snap.finished_at,
                "manifest_sha256": snap.manifest_sha256,
            },
            "filters": self.options.filters.to_json(),
            "include_content": self.options.include_content,
            "output": {
                "ndjson": self.ndjson.path if self.ndjson else None,
                "gzip": self.gzip,
                "files_dir": self.files_dir,
            },
            "counts": self.counts,
            "files": [f.to_json() for f in written],
        }


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def iter_rows(
    archive: Archive, snapshot: SnapshotRow, filters: ExportFilters
) -> Iterator[ProjectRow]:
    """The snapshot's projects that pass the filters, streamed in list order."""
    for row in archive.index.projects(snapshot.id):
        if filters.matches(row):
            yield row


def write_ndjson(
    archive: Archive,
    archive_path: Path,
    snapshot: SnapshotRow,
    options: ExportOptions,
    sink: ByteSink,
    *,
    base: Path,
) -> ExportResult:
    """Stream the snapshot's records into ``sink``; copy file bodies if asked.

    Memory stays flat in the number of projects: rows are streamed from the index and
    each record is written as soon as it is built. ``base`` is the directory that
    ``exported_file`` paths are relative to (the NDJSON file's directory).
    """
    files = FilesDir(archive, options.files_dir, base) if options.files_dir else None
    counts = {
        "projects": 0,
        "gone": 0,
        "deleted": 0,
        "incomplete": 0,
        "attachments": 0,
        "documents_archived": 0,
        "files_archived": 0,
        "attachments_not_archived": 0,
        "collaborators": 0,
        "files_exported": 0,
    }
    for row in iter_rows(archive, snapshot, options.filters):
        data = load_project(archive, row)
        rec = export_record(
            archive,
            data,
            include_content=options.include_content,
            exported_file=files.copy if files else None,
        )
        sink.write(orjson.dumps(rec) + b"\n")
        counts["projects"] += 1
        counts["gone"] += int(data.gone)
        counts["deleted"] += int(row.deleted_at is not None)
        counts["incomplete"] += int(not data.complete)
        for att in rec["attachments"] or []:
            counts["attachments"] += 1
            if not att.get("archived"):
                counts["attachments_not_archived"] += 1
            elif att.get("type") == "project_doc":
                counts["documents_archived"] += 1
            elif att.get("type") == "project_file":
                counts["files_archived"] += 1
        counts["collaborators"] += len(rec["collaborators"] or [])
    if files is not None:
        counts["files_exported"] = len(files.written)
    return ExportResult(
        archive=archive_path,
        snapshot=snapshot,
        options=options,
        ndjson=None,
        files=files.written if files else [],
        counts=counts,
        created_at=_now(),
        files_dir=files.relative(".") if files else None,
    )


def write_ndjson_file(
    archive: Archive,
    archive_path: Path,
    snapshot: SnapshotRow,
    options: ExportOptions,
    out: Path,
    *,
    base: Path,
) -> ExportResult:
    """The NDJSON (gzipped if ``out`` ends in .gz) as one atomic file, plus file bodies."""
    gzipped = out.name.endswith(".gz")
    target = AtomicFile(out)
    try:
        if gzipped:
            # mtime 0 and no name in the header: the same export gives the same bytes.
            with gzip.GzipFile(filename="", mode="wb", fileobj=target, mtime=0) as gz:
                result = write_ndjson(archive, archive_path, snapshot, options, gz, base=base)
            # Leaving the block wrote the gzip trailer into target (and left it open).
        else:
            result = write_ndjson(archive, archive_path, snapshot, options, target, base=base)
        md5, sha, size = target.commit()
    except BaseException:
        target.abort()
        raise
    result.ndjson = WrittenFile(os.path.relpath(out, base), md5, sha, size)
    result.gzip = gzipped
    return result


def export_to_file(
    archive: Archive, archive_path: Path, options: ExportOptions, out: Path
) -> tuple[ExportResult, Path]:
    """NDJSON to ``out``, then ``<out>.md5`` and ``<out>.manifest.json`` beside it.

    Order, so that a recipient never sees a manifest for files that are not all there:
    file bodies, the NDJSON, the md5sum file, the manifest last. Each is atomic.
    """
    snapshot = pick_snapshot(archive, options.snapshot_id)
    base = out.parent
    result = write_ndjson_file(archive, archive_path, snapshot, options, out, base=base)
    md5_path = out.with_name(out.name + ".md5")
    listed = ([result.ndjson] if result.ndjson else []) + result.files
    md5, sha, size = write_atomic(md5_path, md5sum_lines(listed))
    md5_file = WrittenFile(os.path.relpath(md5_path, base), md5, sha, size)
    manifest_path = out.with_name(out.name + ".manifest.json")
    manifest = result.manifest([md5_file])
    write_atomic(manifest_path, orjson.dumps(manifest, option=orjson.OPT_INDENT_2) + b"\n")
    return result, manifest_path


def export_to_stdout(archive: Archive, archive_path: Path, options: ExportOptions) -> ExportResult:
    """NDJSON to standard output. No manifest can describe a stream (the caller says so)."""
    snapshot = pick_snapshot(archive, options.snapshot_id)
    sys.stdout.flush()
    stream = sys.stdout.buffer
    result = write_ndjson(archive, archive_path, snapshot, options, stream, base=Path.cwd())
    stream.flush()
    return result


def md5sum_lines(files: list[WrittenFile]) -> bytes:
    """``md5sum -c`` input: ``<md5>  <relative path>`` per file."""
    lines = []
    for f in files:
        if "\n" in f.path or "\\" in f.path:
            raise UsageError(f"cannot list {f.path!r} in an md5sum file: rename the output")
        lines.append(f"{f.md5}  {f.path}\n")
    return "".join(lines).encode("utf-8")

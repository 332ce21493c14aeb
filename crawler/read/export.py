"""``crawler export``: a snapshot as connector-shaped NDJSON files, with file bodies.

Reads through the read model (:mod:`crawler.read.reader`) and never touches the
network. The record shape is :mod:`crawler.read.connector`'s; the bag is
:mod:`crawler.read.bag`'s. Every file written is atomic (tmp, fsync, rename) and
hashed while written; a full disk is a DiskFullError (exit 1), as in the crawl.
"""

from __future__ import annotations

import gzip
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import orjson

from crawler import __version__
from crawler.archive import SnapshotRow
from crawler.archive.fs import AtomicFile, os_error, write_file_atomic
from crawler.archive.refs import BlobRef
from crawler.canonical import utc_now
from crawler.errors import ArchiveError, UsageError
from crawler.read.connector import ExportFilters, export_record
from crawler.read.reader import ArchiveReader, ProjectData
from crawler.retention.receipts import receipts_by_project
from crawler.seal.proof import export_seal

EXPORT_FORMAT = 1
_CHUNK = 1024 * 1024
COUNT_KEYS = (
    "projects",
    "gone",
    "deleted",
    "incomplete",
    "attachments",
    "documents_archived",
    "files_archived",
    "attachments_not_archived",
    "collaborators",
    "files_exported",
)


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


class FilesDir:
    """File bodies copied out of the archive as ``<dir>/<sha256>``: never an API filename.

    Each distinct body is written once (a set of sha256s: memory grows with distinct
    bodies, not with projects), streamed and rehashed on the way, so a damaged blob is
    refused rather than exported.
    """

    def __init__(self, reader: ArchiveReader, directory: Path, base: Path) -> None:
        self.reader = reader
        self.directory = directory
        self.base = base
        self.written: list[WrittenFile] = []
        self._seen: dict[str, str] = {}
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise os_error(exc, "create", directory) from None

    def relative(self, name: str) -> str:
        return os.path.relpath(self.directory / name, self.base)

    def copy(self, ref: BlobRef) -> str:
        """Copy one body out (once); its path relative to the export's base."""
        if ref.sha256 in self._seen:
            return self._seen[ref.sha256]
        dest = self.directory / ref.sha256
        out = AtomicFile(dest)
        try:
            with self.reader.open_blob(ref) as src:
                while chunk := src.read(_CHUNK):
                    out.write(chunk)
            if out.size != ref.size or out.md5 != ref.md5:
                raise ArchiveError(
                    f"blob {ref.md5} is damaged ({self.reader.blob_where(ref)}): "
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
    include_receipts: bool = False  # each record gains ``retention_receipts`` (may be [])
    include_activity: bool = False


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
            "snapshot": {**snap.summary(), "manifest_sha256": snap.manifest_sha256},
            "filters": self.options.filters.to_json(),
            "include_content": self.options.include_content,
            "include_receipts": self.options.include_receipts,
            "include_activity": self.options.include_activity,
            "output": {
                "ndjson": self.ndjson.path if self.ndjson else None,
                "gzip": self.gzip,
                "files_dir": self.files_dir,
            },
            "counts": self.counts,
            "files": [f.to_json() for f in written],
        }


def write_ndjson(
    reader: ArchiveReader,
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
    files = FilesDir(reader, options.files_dir, base) if options.files_dir else None
    counts = dict.fromkeys(COUNT_KEYS, 0)
    receipts = receipts_by_project(reader) if options.include_receipts else None
    for data in reader.projects(snapshot.id, options.filters.matches):
        rec = export_record(
            reader,
            data,
            include_content=options.include_content,
            exported_file=files.copy if files else None,
            activities=(
                reader.activities(snapshot, data.project_id) if options.include_activity else None
            ),
        )
        if receipts is not None:
            rec["retention_receipts"] = receipts.get(data.project_id, [])
            counts["receipts"] = counts.get("receipts", 0) + len(rec["retention_receipts"])
        sink.write(orjson.dumps(rec) + b"\n")
        _count(counts, data, rec)
    if files is not None:
        counts["files_exported"] = len(files.written)
    return ExportResult(
        archive=reader.path,
        snapshot=snapshot,
        options=options,
        ndjson=None,
        files=files.written if files else [],
        counts=counts,
        created_at=utc_now(),
        files_dir=files.relative(".") if files else None,
    )


def _count(counts: dict[str, int], data: ProjectData, rec: dict[str, Any]) -> None:
    counts["projects"] += 1
    counts["gone"] += int(data.gone)
    counts["deleted"] += int(data.row.deleted_at is not None)
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


def write_ndjson_file(
    reader: ArchiveReader,
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
                result = write_ndjson(reader, snapshot, options, gz, base=base)
            # Leaving the block wrote the gzip trailer into target (and left it open).
        else:
            result = write_ndjson(reader, snapshot, options, target, base=base)
        md5, sha, size = target.commit()
    except BaseException:
        target.abort()
        raise
    result.ndjson = WrittenFile(os.path.relpath(out, base), md5, sha, size)
    result.gzip = gzipped
    return result


def export_to_file(
    reader: ArchiveReader, options: ExportOptions, out: Path
) -> tuple[ExportResult, Path]:
    """NDJSON to ``out``, then ``<out>.seal.json`` (sealed archives), ``<out>.md5`` and
    ``<out>.manifest.json`` beside it.

    Order, so that a recipient never sees a manifest for files that are not all there:
    file bodies, the NDJSON, the md5sum file, the manifest last. Each is atomic.
    """
    snapshot = reader.snapshot(options.snapshot_id)
    base = out.parent
    result = write_ndjson_file(reader, snapshot, options, out, base=base)
    seal = export_seal(reader.archive.store, snapshot.id, snapshot.manifest_sha256)
    sealed: list[WrittenFile] = []
    if seal is not None:  # the snapshot's place in the signed log, for an offline check
        seal_path = out.with_name(out.name + ".seal.json")
        digests = write_file_atomic(seal_path, orjson.dumps(seal, option=orjson.OPT_INDENT_2))
        sealed.append(WrittenFile(os.path.relpath(seal_path, base), *digests))
    md5_path = out.with_name(out.name + ".md5")
    listed = ([result.ndjson] if result.ndjson else []) + result.files + sealed
    md5, sha, size = write_file_atomic(md5_path, md5sum_lines(listed))
    md5_file = WrittenFile(os.path.relpath(md5_path, base), md5, sha, size)
    manifest_path = out.with_name(out.name + ".manifest.json")
    manifest = result.manifest([*sealed, md5_file])
    manifest["seal"] = sealed[0].path if sealed else None
    write_file_atomic(manifest_path, orjson.dumps(manifest, option=orjson.OPT_INDENT_2) + b"\n")
    return result, manifest_path


def export_to_stdout(reader: ArchiveReader, options: ExportOptions) -> ExportResult:
    """NDJSON to standard output. No manifest can describe a stream (the caller says so)."""
    snapshot = reader.snapshot(options.snapshot_id)
    sys.stdout.flush()
    stream = sys.stdout.buffer
    result = write_ndjson(reader, snapshot, options, stream, base=Path.cwd())
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

"""The archive on disk (format v1; the full contract is docs/ARCHIVE.md).

Layout::

    ARCHIVE_DIR/            0700, files 0600
      ARCHIVE               marker: {"format": "crawler-archive", "version": 1, ...}
      lock                  flock'ed by the one writer
      tmp/                  every write starts here; leftovers are garbage, swept on open
      blobs/ab/<md5>        content-addressed bodies (<md5>.<sha256> for a collision)
      index.sqlite          catalogue and run state (blobs.py, index.py)
      snapshots/<id>.json   one manifest per finished snapshot (manifest.py)

Write order, as restic: blobs, then the index rows that refer to them, then the
snapshot manifest. So every index reference resolves to a durable blob, and a crash
leaves at worst orphan blobs and tmp files, which ``crawler verify`` reports as notes.

A writer (:meth:`Archive.open_for_writing`) holds the lock and runs with umask 077;
a reader (:meth:`Archive.open_for_reading`) writes nothing at all.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import shutil
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import orjson

from crawler.archive import manifest as _manifest
from crawler.archive.blobs import BlobStore, StoredBlob
from crawler.archive.fs import atomic_write, make_dir, os_error
from crawler.archive.index import Index, SnapshotRow, check_snapshot_id
from crawler.archive.records import decode_record, encode_record
from crawler.archive.refs import BlobRef
from crawler.errors import ArchiveBusyError, ArchiveError

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "Archive",
    "BlobRef",
    "StoredBlob",
    "new_snapshot_id",
]

FORMAT_NAME = "crawler-archive"
FORMAT_VERSION = 1
MARKER = "ARCHIVE"
INDEX = "index.sqlite"

# umask is process-wide: set it while any archive is open for writing, restore it
# when the last one closes.
_umask_holders = 0
_saved_umask = 0


def new_snapshot_id(now: datetime | None = None) -> str:
    """``YYYYMMDDTHHMMSSZ-xxxxxx``: the UTC start time and 6 random hex digits."""
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)  # a naive time is taken to be UTC
    return f"{now.astimezone(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def read_marker(path: Path) -> None:
    """Check the ARCHIVE marker; ArchiveError if it is absent or not ours."""
    marker = path / MARKER
    try:
        data = marker.read_bytes()
    except FileNotFoundError:
        raise ArchiveError(f"{path} is not a crawler archive (no {MARKER} marker)") from None
    except OSError as exc:
        raise os_error(exc, "read", marker) from exc
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise ArchiveError(f"{marker} is damaged: not JSON") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT_NAME:
        raise ArchiveError(f"{path} is not a crawler archive ({marker} is not ours)")
    if doc.get("version") != FORMAT_VERSION:
        raise ArchiveError(
            f"{path} is archive format version {doc.get('version')!r}; "
            f"this crawler reads version {FORMAT_VERSION}"
        )


class Archive:
    """An open archive: ``blobs`` (bodies), ``index`` (catalogue), manifests."""

    def __init__(
        self, path: Path, index: Index, *, writable: bool, lock_fd: int | None = None
    ) -> None:
        self.path = path
        self.index = index
        self.blobs = BlobStore(path, index, writable=writable)
        self.writable = writable
        self._lock_fd = lock_fd
        self._closed = False

    # -- opening -----------------------------------------------------------------------------

    @classmethod
    def open_for_writing(cls, path: Path) -> Archive:
        """Open (creating it if the directory is missing or empty) and take the lock."""
        path = Path(path)
        global _umask_holders, _saved_umask
        if _umask_holders == 0:
            _saved_umask = os.umask(0o077)
        _umask_holders += 1
        try:
            return cls._open_writer(path)
        except BaseException:
            _release_umask()
            raise

    @classmethod
    def _open_writer(cls, path: Path) -> Archive:
        try:
            if not path.exists():
                path.mkdir(mode=0o700, parents=True)
                os.chmod(path, 0o700)
            elif not path.is_dir():
                raise ArchiveError(f"{path} is not a directory")
            entries = set(os.listdir(path))
        except OSError as exc:
            raise os_error(exc, "create", path) from exc
        # Decide before creating anything: never leave a lock file in someone else's dir.
        if MARKER not in entries and entries - {"lock"}:
            raise ArchiveError(
                f"{path} is not a crawler archive (no {MARKER} marker); refusing to write into it"
            )
        if MARKER in entries:
            read_marker(path)
        lock_fd = _take_lock(path)
        try:
            created = not (path / MARKER).exists()
            if created:
                # Marker first: from here on a half-made archive is still recognised as
                # ours, and the steps below are idempotent.
                marker = {
                    "format": FORMAT_NAME,
                    "version": FORMAT_VERSION,
                    "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                }
                try:
                    make_dir(path / "tmp")
                except OSError as exc:
                    raise os_error(exc, "create", path / "tmp") from exc
                atomic_write(path / "tmp", path / MARKER, orjson.dumps(marker) + b"\n")
            try:
                for sub in ("tmp", "blobs", "snapshots"):
                    make_dir(path / sub)
                _sweep_tmp(path / "tmp")
            except OSError as exc:
                raise os_error(exc, "prepare", path) from exc
            index_path = path / INDEX
            new_index = not index_path.exists()
            if new_index and not _is_empty_store(path):
                raise ArchiveError(
                    f"damaged archive {path}: {INDEX} is missing but blobs or manifests exist"
                )
            index = Index.open_writer(index_path, create=new_index)
            try:
                # SQLite creates files with the umask applied; state 0600 explicitly too.
                for name in (INDEX, INDEX + "-wal", INDEX + "-shm"):
                    if (path / name).exists():
                        os.chmod(path / name, 0o600)
            except OSError as exc:
                index.close()
                raise os_error(exc, "chmod", path / INDEX) from exc
        except BaseException:
            os.close(lock_fd)
            raise
        return cls(path, index, writable=True, lock_fd=lock_fd)

    @classmethod
    def open_for_reading(cls, path: Path) -> Archive:
        """Open read-only: no lock, no sweep, SQLite ``mode=ro``; never writes a byte."""
        path = Path(path)
        if not path.exists():
            raise ArchiveError(f"archive {path} does not exist")
        if not path.is_dir():
            raise ArchiveError(f"{path} is not a directory")
        read_marker(path)
        index = Index.open_reader(path / INDEX)
        return cls(path, index, writable=False)

    # -- records and manifests ---------------------------------------------------------------

    def read_record(self, ref: BlobRef) -> dict[str, Any]:
        """A stored project record, parsed (see :mod:`crawler.archive.records`)."""
        return decode_record(self.blobs.read(ref), f"record {ref.md5}")

    async def put_record(self, record: dict[str, Any]) -> StoredBlob:
        return await self.blobs.put(encode_record(record), "record")

    def write_manifest(self, snapshot_id: str, manifest: dict[str, Any]) -> str:
        """See :func:`crawler.archive.manifest.write_manifest`."""
        self._require_writable()
        return _manifest.write_manifest(self, snapshot_id, manifest)

    def write_manifest_stream(
        self, snapshot_id: str, header: dict[str, Any], projects: Iterable[dict[str, Any]]
    ) -> str:
        """See :func:`crawler.archive.manifest.write_manifest_stream`."""
        self._require_writable()
        return _manifest.write_manifest_stream(self, snapshot_id, header, projects)

    def reopen_snapshot(self, snapshot_id: str) -> None:
        """See :func:`crawler.archive.manifest.reopen_snapshot`."""
        self._require_writable()
        _manifest.reopen_snapshot(self, snapshot_id)

    def _require_writable(self) -> None:
        if not self.writable:
            raise ArchiveError(f"archive {self.path} is open read-only")

    def read_manifest(self, snapshot_id: str) -> dict[str, Any]:
        """See :func:`crawler.archive.manifest.read_manifest`."""
        return _manifest.read_manifest(self, snapshot_id)

    def manifest_path(self, snapshot_id: str) -> Path:
        return _manifest.manifest_path(self, snapshot_id)

    def require_snapshot(self, snapshot_id: str | None = None) -> SnapshotRow:
        """The named snapshot, or the latest finished one; errors that say what is missing."""
        if snapshot_id is not None:
            check_snapshot_id(snapshot_id)
            return self.index.get_snapshot(snapshot_id)
        latest = self.index.latest_finished()
        if latest is not None:
            return latest
        if self.index.list_snapshots():
            raise ArchiveError(f"archive {self.path} has no finished snapshot yet")
        raise ArchiveError(f"archive {self.path} is empty: it holds no snapshots")

    # -- closing -----------------------------------------------------------------------------

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self.index.close()
        finally:
            if self._lock_fd is not None:
                os.close(self._lock_fd)  # closing the descriptor releases the flock
                self._lock_fd = None
                _release_umask()

    def __enter__(self) -> Archive:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _release_umask() -> None:
    global _umask_holders
    _umask_holders -= 1
    if _umask_holders == 0:
        os.umask(_saved_umask)


def _take_lock(path: Path) -> int:
    lock = path / "lock"
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise os_error(exc, "create", lock) from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        try:
            pid = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
        except OSError:
            pid = "unknown"
        os.close(fd)
        raise ArchiveBusyError(f"another crawler is writing to {path} (pid {pid})") from None
    except OSError as exc:
        os.close(fd)
        raise os_error(exc, "lock", lock) from exc
    try:
        os.fchmod(fd, 0o600)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    except OSError as exc:
        os.close(fd)
        raise os_error(exc, "write", lock) from exc
    return fd


def _sweep_tmp(tmp: Path) -> None:
    # Anything in tmp/ belongs to a writer that died: we hold the lock, so none is alive.
    for entry in os.scandir(tmp):
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            os.unlink(entry.path)


def _is_empty_store(path: Path) -> bool:
    blobs = path / "blobs"
    snaps = path / "snapshots"
    return not (blobs.is_dir() and any(blobs.iterdir())) and not (
        snaps.is_dir() and any(snaps.iterdir())
    )

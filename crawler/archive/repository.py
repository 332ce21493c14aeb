"""The archive as one object: :class:`Archive`, the repository over blobs, index, manifests.

It keeps the write order (docs/ARCHIVE.md): a body is placed on disk by the
:class:`~crawler.archive.blobs.BlobStore` (which knows only the disk), and only
then does the archive register its row in the index (:class:`Blobs`); records
are encoded by :mod:`crawler.archive.records`; manifests are written last by
:mod:`crawler.archive.manifest`.

A writer (:meth:`Archive.open_for_writing`) holds the lock and runs with umask
077; a reader (:meth:`Archive.open_for_reading`) writes nothing at all.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

import orjson

from crawler.archive import logstore, remote
from crawler.archive import manifest as _manifest
from crawler.archive.blobs import BlobStore, BlobWriter, StoredBlob
from crawler.archive.fs import (
    atomic_write,
    hold_private_umask,
    make_dir,
    os_error,
    release_private_umask,
)
from crawler.archive.holding import HeldKeys, record_keys, writing_held
from crawler.archive.index import Index, SnapshotRow, check_snapshot_id
from crawler.archive.keep import keep_carried, keep_log, keep_record
from crawler.archive.layout import (
    FORMAT_NAME,
    FORMAT_VERSION,
    INDEX,
    MARKER,
    check_marker,
    is_empty_store,
    read_marker,
    sweep_tmp,
)
from crawler.archive.records import decode_record, encode_record
from crawler.archive.refs import MD5_RE, BlobRef
from crawler.archive.store.base import Lease, ObjectMissingError, ObjectStore, blob_key
from crawler.archive.store.disk import DiskStore
from crawler.archive.store.location import S3Location
from crawler.canonical import utc_now_seconds
from crawler.errors import ArchiveError

__all__ = ["Archive", "Blobs"]


class Blobs:
    """The archive's blobs: the store on disk plus their rows in the index."""

    def __init__(self, store: BlobStore, index: Index, held: HeldKeys | None = None) -> None:
        self.store = store
        self.index = index
        self.held = held if held is not None else HeldKeys(store.store)
        self.blobs_dir = store.blobs_dir
        self.tmp_dir = store.tmp_dir

    @property
    def md5_factory(self) -> Callable[[], Any]:
        return self.store.md5_factory

    @md5_factory.setter
    def md5_factory(self, factory: Callable[[], Any]) -> None:
        self.store.md5_factory = factory

    def writer(self, kind: str) -> BlobWriter:
        """Stream a body in; ``await w.commit()`` places it, then registers it."""
        return self.store.writer(kind, self._register)

    async def put(self, data: bytes, kind: str) -> StoredBlob:
        async with self.writer(kind) as w:
            await w.write(data)
            return await w.commit()

    async def _register(self, tmp: Path, ref: BlobRef, kind: str) -> StoredBlob:
        known = self.index.blobs_with_md5(ref.md5)
        hold = self.held.active and writing_held()
        created, variant = await self.store.place(tmp, ref, known, kind, hold)
        if created and hold:  # held in its own PUT: no PutObjectLegalHold for it
            self.held.note(blob_key(ref.md5, ref.sha256 if variant else None))
        # Blob before index: the row is added only once the file is durable.
        self.index.add_blob(ref, kind, variant=variant)
        return StoredBlob(ref=ref, kind=kind, created=created, collision=variant)

    def find_md5(self, md5: str) -> BlobRef | None:
        """The stored blob with this md5, if exactly one is known to the index.

        With a collision on record the md5 alone does not say which body was meant,
        so None: the caller downloads and stores the body it actually gets.
        """
        if not MD5_RE.fullmatch(md5):
            return None
        rows = self.index.blobs_with_md5(md5)
        return rows[0][0] if len(rows) == 1 else None

    def key_of(self, ref: BlobRef) -> str:
        # Not in the index (an orphan, or an index that lost a row): the store looks.
        row = self.index.find_blob(ref.md5, ref.sha256)
        return self.store.key_of(ref, None if row is None else row[1])

    def path_of(self, ref: BlobRef) -> Path:
        """A disk archive's file for the blob (tests and disk-only tools)."""
        row = self.index.find_blob(ref.md5, ref.sha256)
        return self.store.path_of(ref, None if row is None else row[1])

    def read(self, ref: BlobRef) -> bytes:
        return self.store.read(self.key_of(ref), ref)

    def open(self, ref: BlobRef) -> BinaryIO:
        return self.store.open(self.key_of(ref), ref)


class Archive:
    """An open archive: ``blobs`` (bodies), ``index`` (catalogue), manifests."""

    def __init__(
        self,
        path: Path,
        index: Index,
        *,
        writable: bool,
        lease: Lease | None = None,
        store: ObjectStore | None = None,
    ) -> None:
        self.path = path  # the local directory: the archive (disk), or its cache (a bucket)
        self.store: ObjectStore = store if store is not None else DiskStore(path)
        self.location = self.store.url  # what a person calls the archive
        self.index = index
        self.held = HeldKeys(self.store)  # what this run put the legal hold on
        self.blobs = Blobs(BlobStore(path, writable=writable, store=self.store), index, self.held)
        self.writable = writable
        self._lease = lease
        self._closed = False

    # -- opening -----------------------------------------------------------------------------

    @classmethod
    def open_for_writing(cls, path: Path | S3Location) -> Archive:
        """Open (creating it if the directory is missing or empty) and take the lock."""
        if isinstance(path, S3Location):
            return cls._open_bucket(path, writable=True)
        path = Path(path)
        hold_private_umask()
        try:
            _check_writable_dir(path)
            store = DiskStore(path)
            lease = store.lock("crawler")
            try:
                _prepare_layout(path)
                index = _open_index(path)
            except BaseException:
                lease.release()
                raise
            return cls(path, index, writable=True, lease=lease, store=store)
        except BaseException:
            release_private_umask()
            raise

    @classmethod
    def open_for_reading(cls, path: Path | S3Location) -> Archive:
        """Open read-only: no lock, no sweep, SQLite ``mode=ro``; never writes a byte.

        (An S3 archive's local cache is written, when it must be rebuilt; the bucket never.)
        """
        if isinstance(path, S3Location):
            return cls._open_bucket(path, writable=False)
        path = Path(path)
        if not path.exists():
            raise ArchiveError(f"archive {path} does not exist")
        if not path.is_dir():
            raise ArchiveError(f"{path} is not a directory")
        read_marker(path)
        index = Index.open_reader(path / INDEX)
        return cls(path, index, writable=False)

    @classmethod
    def _open_bucket(cls, location: S3Location, *, writable: bool) -> Archive:
        """An archive in a bucket, its SQLite files a local cache (docs/ARCHIVE.md, "Stores")."""
        store = remote.connect_store(location)
        lease: Lease | None = None
        if writable:
            hold_private_umask()
        try:
            if writable:
                lease = store.lock("crawler")
                remote.prepare_bucket(store)
            else:
                try:
                    check_marker(store.get(MARKER), store.url, store.where(MARKER))
                except ObjectMissingError:
                    raise ArchiveError(
                        f"{store.url} is not a crawler archive (no {MARKER})"
                    ) from None
            index = remote.open_cache_index(store, location, writable=writable)
        except BaseException:
            if lease is not None:
                lease.release()
            store.close()
            if writable:
                release_private_umask()
            raise
        return cls(location.cache_dir, index, writable=writable, lease=lease, store=store)

    # -- records and manifests ---------------------------------------------------------------

    def read_record(self, ref: BlobRef) -> dict[str, Any]:
        """A stored project record, parsed (see :mod:`crawler.archive.records`)."""
        return decode_record(self.blobs.read(ref), f"record {ref.md5}")

    async def put_record(self, record: dict[str, Any]) -> StoredBlob:
        stored = await self.blobs.put(encode_record(record), "record")
        if self.store.worm:  # what the record reuses stays locked as long as it
            await asyncio.to_thread(keep_record, self.blobs.store, self.index, record)
        if self.held.active and writing_held():  # a held project's: every object it names
            keys = list(record_keys(self.blobs.key_of, stored.ref, record))
            await asyncio.to_thread(self.held.ensure, keys)
        return stored

    def write_manifest(self, snapshot_id: str, manifest: dict[str, Any]) -> str:
        """See :func:`crawler.archive.manifest.write_manifest`."""
        self._require_writable()
        self._keep_for_snapshot(snapshot_id)
        return _manifest.write_manifest(
            self.store, self.path / "tmp", self.index, snapshot_id, manifest
        )

    def write_manifest_stream(
        self, snapshot_id: str, header: dict[str, Any], projects: Iterable[dict[str, Any]]
    ) -> str:
        """See :func:`crawler.archive.manifest.write_manifest_stream`."""
        self._require_writable()
        self._keep_for_snapshot(snapshot_id)
        return _manifest.write_manifest_stream(
            self.store, self.path / "tmp", self.index, snapshot_id, header, projects
        )

    def _keep_for_snapshot(self, snapshot_id: str) -> None:
        """Before its manifest: what the snapshot carries, and the seal's whole log, locked
        at least as long as the snapshot (docs/ARCHIVE.md, "Object Lock")."""
        keep_carried(self.blobs.store, self.index, snapshot_id)
        keep_log(self.store)

    def reopen_snapshot(self, snapshot_id: str) -> None:
        """See :func:`crawler.archive.manifest.reopen_snapshot`.

        A sealed archive first keeps the manifest being replaced (its leaf names it) in
        ``log/superseded/``, on both backends (a bucket also keeps the older revision,
        but the seal's audit reads one place).
        """
        self._require_writable()
        key = _manifest.current_manifest_key(self.store, snapshot_id)
        if logstore.is_sealed(self.store) and self.store.exists(key):
            data = _manifest.read_manifest_bytes(self.store, snapshot_id)
            sha = hashlib.sha256(data).hexdigest()
            logstore.put_once(self.store, f"superseded/{snapshot_id}-{sha}.json", data)
        _manifest.reopen_snapshot(self.index, snapshot_id)

    def _require_writable(self) -> None:
        if not self.writable:
            raise ArchiveError(f"archive {self.path} is open read-only")

    def read_manifest(self, snapshot_id: str) -> dict[str, Any]:
        """See :func:`crawler.archive.manifest.read_manifest`."""
        return _manifest.read_manifest(self.store, self.index, snapshot_id)

    def manifest_path(self, snapshot_id: str) -> Path:
        return _manifest.manifest_path(self.path, snapshot_id)

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
            if self._lease is not None:
                lease, self._lease = self._lease, None
                try:
                    lease.release()
                finally:
                    release_private_umask()
            self.store.close()

    def __enter__(self) -> Archive:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _check_writable_dir(path: Path) -> None:
    """Create the directory if missing; refuse one that is not (and cannot become) ours."""
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


def _prepare_layout(path: Path) -> None:
    """The marker (first, for a new archive), the directories, a swept tmp/."""
    if not (path / MARKER).exists():
        # Marker first: from here on a half-made archive is still recognised as
        # ours, and the steps below are idempotent.
        marker = {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "created_at": utc_now_seconds(),
        }
        try:
            make_dir(path / "tmp")
        except OSError as exc:
            raise os_error(exc, "create", path / "tmp") from exc
        atomic_write(path / "tmp", path / MARKER, orjson.dumps(marker) + b"\n")
    try:
        for sub in ("tmp", "blobs", "snapshots"):
            make_dir(path / sub)
        sweep_tmp(path / "tmp")
    except OSError as exc:
        raise os_error(exc, "prepare", path) from exc


def _open_index(path: Path) -> Index:
    index_path = path / INDEX
    new_index = not index_path.exists()
    if new_index and not is_empty_store(path):
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
    return index

"""Content-addressed blobs: ``blobs/ab/<md5>`` (and ``<md5>.<sha256>`` on a collision).

Keys of an :class:`~crawler.archive.store.ObjectStore` (a directory or a bucket).

A blob is streamed into ``tmp/<random>``, hashed (md5 and sha256) while it is written,
fsynced, renamed into place, and its directory fsynced; only then does the index gain
its row. See docs/ARCHIVE.md, "Write order".
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Protocol

from crawler.archive.fs import os_error, tmp_name, unlink_quietly, write_all
from crawler.archive.refs import BlobRef, check_ref
from crawler.archive.store.base import ObjectMissingError, ObjectStore, blob_key
from crawler.archive.store.disk import DiskStore
from crawler.errors import ArchiveError

# What the archive does with a durable tmp file: place it, register it, say how it went.
OnDurable = Callable[[Path, BlobRef, str], Awaitable["StoredBlob"]]

BLOB_KINDS = frozenset({"file", "text", "json", "record", "plan", "receipt"})

# Small chunks are gathered before each trip to a worker thread: one thread hop per
# chunk would dominate the cost of a many-small-chunks body. Memory stays flat (this
# much per open writer, whatever the body's size).
_FLUSH_BYTES = 256 * 1024
_READ_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class StoredBlob:
    """The outcome of storing one body.

    ``created`` is False when an identical blob was already stored (deduplicated).
    ``collision`` is True when a *different* body with the same md5 was already
    stored: this one was kept as ``<md5>.<sha256>``. The store cannot know the
    snapshot, so the caller records it as a failure of kind ``md5_collision``.
    """

    ref: BlobRef
    kind: str
    created: bool
    collision: bool


class _Hash(Protocol):
    def update(self, data: bytes, /) -> None: ...
    def hexdigest(self) -> str: ...


# -- writing ---------------------------------------------------------------------------------


class BlobWriter:
    """One body being streamed in. Implements the API layer's BodySink (write/abort).

    Use as ``async with store.writer("file") as w: ...; stored = await w.commit()``;
    leaving the block by an exception before ``commit`` aborts (removes the tmp file).
    """

    def __init__(self, store: BlobStore, kind: str, on_durable: OnDurable) -> None:
        if kind not in BLOB_KINDS:
            raise ValueError(f"unknown blob kind {kind!r}")
        self._store = store
        self._on_durable = on_durable
        self._kind = kind
        self._tmp = tmp_name(store.tmp_dir)
        self._fd: int | None = None
        self._md5: _Hash = store.md5_factory()
        self._sha = hashlib.sha256()
        self._size = 0
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._done = False
        # A cancelled write() leaves its worker thread running; abort() must not close
        # the descriptor under it (a reused fd would then receive the rest of the body).
        self._io_lock = threading.Lock()
        self._closed_for_io = False

    async def __aenter__(self) -> BlobWriter:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self._done:
            await self.abort()

    async def write(self, chunk: bytes) -> None:
        if self._done:
            raise ArchiveError("blob writer already committed or aborted")
        if not chunk:
            return
        self._pending.append(bytes(chunk))
        self._pending_bytes += len(chunk)
        if self._pending_bytes >= _FLUSH_BYTES:
            await self._flush()

    async def abort(self) -> None:
        if self._done:
            return
        self._done = True
        self._pending.clear()
        await asyncio.to_thread(self._discard)

    async def commit(self) -> StoredBlob:
        """Make the blob durable under blobs/, then (and only then) add its index row."""
        if self._done:
            raise ArchiveError("blob writer already committed or aborted")
        await self._flush()
        try:
            await asyncio.to_thread(self._sync_and_close)
        except OSError as exc:
            await self.abort()
            raise os_error(exc, "write", self._tmp) from exc
        self._done = True
        ref = BlobRef(self._md5.hexdigest(), self._sha.hexdigest(), self._size)
        return await self._on_durable(self._tmp, ref, self._kind)

    async def _flush(self) -> None:
        if not self._pending:
            return
        data = b"".join(self._pending)
        self._pending.clear()
        self._pending_bytes = 0
        try:
            await asyncio.to_thread(self._write_sync, data)
        except OSError as exc:
            await self.abort()
            raise os_error(exc, "write", self._tmp) from exc

    # The *_sync methods run in a worker thread: hashing and disk I/O off the loop.

    def _write_sync(self, data: bytes) -> None:
        with self._io_lock:
            self._write_locked(data)

    def _write_locked(self, data: bytes) -> None:
        if self._closed_for_io:
            raise ArchiveError("blob writer was aborted")
        if self._fd is None:
            self._fd = os.open(self._tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self._md5.update(data)
        self._sha.update(data)
        write_all(self._fd, data)
        self._size += len(data)

    def _sync_and_close(self) -> None:
        with self._io_lock:
            if self._fd is None:  # an empty body is still a blob
                self._fd = os.open(self._tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            fd, self._fd = self._fd, None
            try:
                if self._store.store.kind == "disk":  # a bucket's copy is the durable one
                    os.fsync(fd)
            finally:
                os.close(fd)

    def _discard(self) -> None:
        with self._io_lock:
            self._closed_for_io = True
            if self._fd is not None:
                fd, self._fd = self._fd, None
                with contextlib.suppress(OSError):
                    os.close(fd)
            unlink_quietly(self._tmp)


class BlobStore:
    """The ``blobs/`` keys of a store: placing durable bodies under their md5, reading them.

    Knows only the store (:mod:`crawler.archive.store`: a directory or a bucket).
    Which blobs exist, and of what kind, is the index's business: the archive
    (:mod:`crawler.archive.repository`) asks it before a placement and registers
    the row after. Bodies are streamed into the local ``tmp/`` first (hashed as
    they come), then put once under their key.
    """

    def __init__(self, root: Path, *, writable: bool, store: ObjectStore | None = None) -> None:
        self.root = root
        self.store: ObjectStore = store if store is not None else DiskStore(root)
        self.blobs_dir = root / "blobs"
        self.tmp_dir = root / "tmp"
        self.writable = writable
        # Injectable so tests can fabricate an md5 collision (real ones are costly).
        self.md5_factory: Callable[[], _Hash] = hashlib.md5
        # Placement (look, then put) must not interleave between two writers of the
        # same md5, or one collision body could replace the other. Writers place in
        # worker threads, so thread locks; striped by md5 so that different bodies
        # (a bucket's uploads, above all) go up side by side.
        self._place_locks = [threading.Lock() for _ in range(64)]

    def writer(self, kind: str, on_durable: OnDurable) -> BlobWriter:
        """A writer whose durable tmp file is handed to ``on_durable`` on commit."""
        self._require_writable()
        return BlobWriter(self, kind, on_durable)

    def key_of(self, ref: BlobRef, variant: bool | None = None) -> str:
        """The blob's key; ``variant`` unknown (None): whichever object exists."""
        check_ref(ref)
        other = blob_key(ref.md5, ref.sha256)
        if variant is None:
            variant = self.store.exists(other)
        return other if variant else blob_key(ref.md5)

    def path_of(self, ref: BlobRef, variant: bool | None = None) -> Path:
        """Where the blob lives on disk (a disk archive's only; see :meth:`key_of`)."""
        if not isinstance(self.store, DiskStore):
            raise ArchiveError(f"archive {self.store.url} is not on disk: blobs have no path")
        return self.store.path(self.key_of(ref, variant))

    def where(self, key: str) -> str:
        return self.store.where(key)

    def read(self, key: str, ref: BlobRef) -> bytes:
        """The bytes under ``key`` (see :meth:`key_of`), refused unless ``ref.size`` long."""
        try:
            data = self.store.get(key)
        except ObjectMissingError:
            raise ArchiveError(f"blob {ref.md5} is missing ({self.where(key)})") from None
        if len(data) != ref.size:
            raise ArchiveError(
                f"blob {ref.md5} is damaged ({self.where(key)}): {len(data)} bytes, "
                f"expected {ref.size}"
            )
        return data

    def open(self, key: str, ref: BlobRef) -> BinaryIO:
        try:
            return self.store.stream(key)
        except ObjectMissingError:
            raise ArchiveError(f"blob {ref.md5} is missing ({self.where(key)})") from None

    # -- placement ---------------------------------------------------------------------------

    async def place(
        self,
        tmp: Path,
        ref: BlobRef,
        known: list[tuple[BlobRef, bool]],
        kind: str = "",
        hold: bool = False,
    ) -> tuple[bool, bool]:
        """Put a durable tmp file under its key; (created, stored_as_variant).

        ``known``: the blobs already registered with this md5 (and whether each is a
        variant), so an existing body is recognised without rehashing it. ``hold``: a
        body this call writes goes up under the legal hold (one that existed does not:
        see :mod:`crawler.archive.holding`).
        """
        loop = asyncio.get_running_loop()
        executor = getattr(self.store, "executor", None)  # a bucket's: uploads side by side
        # In a bucket, a blob no index row knows is put at once: If-None-Match makes the
        # put itself the existence check (one request, not a HEAD and a PUT), awaited
        # from this loop (no worker thread in between: the crawl's hottest path).
        blind = self.store.worm and not known
        try:
            if blind and await self.store.put_once_async(
                blob_key(ref.md5), tmp, md5=ref.md5, sha256=ref.sha256, size=ref.size,
                kind=kind, hold=hold,
            ):  # fmt: skip
                return True, False
            return await loop.run_in_executor(
                executor, self._place_sync, tmp, ref, known, kind, hold, blind
            )
        except OSError as exc:
            raise os_error(exc, "store blob", self.where(blob_key(ref.md5))) from exc
        finally:
            unlink_quietly(tmp)  # placed (renamed away, or uploaded) or not needed

    def _place_sync(
        self,
        tmp: Path,
        ref: BlobRef,
        known: list[tuple[BlobRef, bool]],
        kind: str,
        hold: bool,
        put: bool,
    ) -> tuple[bool, bool]:
        """``put``: the primary key was already tried (and found taken)."""
        primary = blob_key(ref.md5)
        with self._place_locks[int(ref.md5[:2], 16) % len(self._place_locks)]:
            occupant = self._primary_occupant(primary, ref, [] if put else known)
            if occupant == "free":
                if self._put(primary, tmp, ref, kind, hold):
                    return True, False
                occupant = self._primary_occupant(primary, ref, [])  # it appeared: look again
            if occupant == "same":
                self.store.keep(primary)  # reused: locked at least as long as this run
                return False, False
            if occupant == "damaged":
                self.store.replace(primary, tmp)  # refused by a write-once store
                return True, False
            # A different body already owns this md5: keep both.
            variant = blob_key(ref.md5, ref.sha256)
            info = self.store.head(variant)
            if info is not None and info.size == ref.size:
                self.store.keep(variant)
                return False, True
            return self._put(variant, tmp, ref, kind, hold), True

    def _put(self, key: str, tmp: Path, ref: BlobRef, kind: str, hold: bool) -> bool:
        return self.store.put_once(
            key, tmp, md5=ref.md5, sha256=ref.sha256, size=ref.size, kind=kind, hold=hold
        )

    def _primary_occupant(self, key: str, ref: BlobRef, known: list[tuple[BlobRef, bool]]) -> str:
        """free | same | other | damaged: what is under blobs/ab/<md5> now."""
        if self.store.worm:
            # A row is added only once its object landed, and a write-once store never
            # replaces it: the index says what is there, without a HEAD per reuse
            # (``verify --full`` re-hashes what the bucket holds).
            for other, is_variant in known:
                if not is_variant:
                    return "same" if other.sha256 == ref.sha256 else "other"
        info = self.store.head(key)
        if info is None:
            return "free"
        for other, is_variant in known:
            if not is_variant:
                if other.sha256 != ref.sha256:
                    return "other"
                # Same body per the index; a wrong size means the object was damaged.
                return "same" if info.size == ref.size else "damaged"
        if info.sha256 is not None:  # the store recorded it at write time (a bucket)
            return "same" if info.sha256 == ref.sha256 and info.size == ref.size else "other"
        # Stored but not in the index (a crash between placement and row): hash it.
        md5_h, sha_h = self.md5_factory(), hashlib.sha256()
        with self.store.stream(key) as f:
            while chunk := f.read(_READ_CHUNK):
                md5_h.update(chunk)
                sha_h.update(chunk)
        if md5_h.hexdigest() != ref.md5:
            return "damaged"  # not the body its name promises: replace it
        return "same" if sha_h.hexdigest() == ref.sha256 else "other"

    def _require_writable(self) -> None:
        if not self.writable:
            raise ArchiveError(f"archive {self.store.url} is open read-only")

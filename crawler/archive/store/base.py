"""The one storage interface every archive backend implements (docs/ARCHIVE.md, "Stores").

Like httpx's transport cut-off: everything above (blobs, manifests, the marker,
readers, retention) speaks these few calls and never knows whether the bytes sit
in a directory or in a bucket. Keys are ``/``-separated names relative to the
archive root, always derived from hashes or crawler-made ids, never from API names.

A leaf of the archive package: stdlib only, plus the error tree.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Protocol

from crawler.errors import ArchiveError

__all__ = [
    "LOCK_MODES",
    "Lease",
    "LockPolicy",
    "ObjectInfo",
    "ObjectMissingError",
    "ObjectStore",
    "Source",
    "blob_key",
    "manifest_key",
]

LOCK_MODES = ("off", "governance", "compliance")

# What a put writes: bytes in memory, or a durable local file (streamed, never loaded).
Source = bytes | Path


class ObjectMissingError(ArchiveError):
    """The key names no object in the store."""


@dataclass(frozen=True)
class ObjectInfo:
    """What the store knows of one object without reading it.

    ``sha256`` is what the store recorded at write time (S3 metadata), None when it
    keeps none (disk: rehash to know). The lock fields are None on disk.
    """

    key: str
    size: int
    sha256: str | None = None
    kind: str | None = None
    lock_mode: str | None = None
    retain_until: datetime | None = None
    legal_hold: bool = False
    modified: datetime | None = None


@dataclass(frozen=True)
class LockPolicy:
    """``--object-lock`` and ``--retain``: how long every object a run writes is kept."""

    mode: str = "off"
    retain_seconds: int = 0

    @property
    def active(self) -> bool:
        return self.mode != "off"


class Lease(Protocol):
    """The one writer's hold on an archive (flock on disk, the lease log in a bucket)."""

    def beat(self) -> None:
        """Show the holder is alive; raises ArchiveBusyError if the lease was taken over."""

    def release(self) -> None: ...


class ObjectStore(Protocol):
    """put-once, get, stream, list, exists, lock; and, on a WORM store, retention calls."""

    kind: str  # "disk" or "s3"
    url: str  # for people: the directory, or s3://bucket/prefix (never a credential)
    worm: bool  # True: nothing can be replaced (replace() refuses)

    def where(self, key: str) -> str:
        """The key as a person finds it (a path, or an s3:// URL)."""

    def put_once(
        self,
        key: str,
        source: Source,
        *,
        md5: str,
        sha256: str,
        size: int,
        kind: str = "",
        hold: bool = False,
    ) -> bool:
        """Write the object unless the key exists; True if written, False if it existed.

        A write whose outcome is unknown is settled by reading, never by writing again.
        ``hold``: written under the legal hold (a held project's object; no-op on disk).
        """

    async def put_once_async(
        self,
        key: str,
        source: Source,
        *,
        md5: str,
        sha256: str,
        size: int,
        kind: str = "",
        hold: bool = False,
    ) -> bool:
        """:meth:`put_once`, awaited from an event loop without blocking it."""

    def uploading(self) -> AbstractAsyncContextManager[None]:
        """While open, :meth:`put_once_async` may use connections bound to the running loop."""

    def replace(self, key: str, source: Source) -> None:
        """Atomically replace an object (disk only: a reopened manifest, a damaged blob)."""

    def head(self, key: str) -> ObjectInfo | None: ...

    def exists(self, key: str) -> bool: ...

    def get(self, key: str) -> bytes:
        """The object's bytes; ObjectMissingError if there is none."""

    def stream(self, key: str) -> BinaryIO:
        """The object's bytes as a stream (for bodies of any size)."""

    def list(self, prefix: str) -> Iterator[str]:
        """Every key under ``prefix``, in key order."""

    def lock(self, owner: str) -> Lease:
        """Become the one writer, or ArchiveBusyError naming who is and since when."""

    def retain(self, key: str, until: datetime) -> bool:
        """Extend the object's lock to ``until`` (never shorten); True if it changed."""

    def keep(self, key: str) -> bool:
        """A run reuses this object: lock it at least as long as the run's own (extend only)."""

    def legal_hold(self, key: str, on: bool) -> None: ...

    def close(self) -> None: ...


def blob_key(md5: str, sha256: str | None = None) -> str:
    """``blobs/ab/<md5>``, or ``blobs/ab/<md5>.<sha256>`` for a collision's second body."""
    name = md5 if sha256 is None else f"{md5}.{sha256}"
    return f"blobs/{md5[:2]}/{name}"


def manifest_key(snapshot_id: str, revision: int = 1) -> str:
    """``snapshots/<id>.json``; a bucket's later revisions ``snapshots/<id>.<n>.json``."""
    if revision <= 1:
        return f"snapshots/{snapshot_id}.json"
    return f"snapshots/{snapshot_id}.{revision}.json"

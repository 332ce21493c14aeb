"""The one writer of a bucket: the lease log ``locks/<generation>.json`` (docs/ARCHIVE.md).

Every step is a put-once of the next generation, so exactly one of two racing
writers wins each step and nothing is ever overwritten or deleted:
acquire (the latest generation is ``released`` or stale), heartbeat (the holder
writes the next generation; a 412 means it was taken over and must stop), release.
Staleness is judged by the server's clock (the object's ``LastModified``), never
the writer's.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson

from crawler.archive.store.base import ObjectInfo
from crawler.errors import ArchiveBusyError, ArchiveError


class S3Store(Protocol):
    """What the lease needs of :class:`crawler.archive.store.s3.S3Store`."""

    url: str

    def where(self, key: str) -> str: ...
    def list(self, prefix: str) -> Iterator[str]: ...
    def head(self, key: str) -> ObjectInfo | None: ...
    def get(self, key: str) -> bytes: ...
    def put_once(
        self, key: str, source: bytes, *, md5: str, sha256: str, size: int, kind: str, lock: bool
    ) -> bool: ...


__all__ = ["HEARTBEAT_SECONDS", "STALE_SECONDS", "S3Lease", "lease_state"]

HEARTBEAT_SECONDS = 60.0
STALE_SECONDS = 300.0
_PREFIX = "locks/"


def _key(generation: int) -> str:
    return f"{_PREFIX}{generation:012d}.json"


def lease_state(store: S3Store) -> tuple[int, dict[str, Any] | None, datetime | None]:
    """(latest generation, its document, its server time); (0, None, None) if none yet."""
    latest: str | None = None
    for key in store.list(_PREFIX):
        name = key.removeprefix(_PREFIX).removesuffix(".json")
        if name.isdigit() and len(name) == 12:
            latest = key
    if latest is None:
        return 0, None, None
    gen = int(latest.removeprefix(_PREFIX).removesuffix(".json"))
    info = store.head(latest)
    try:
        doc = orjson.loads(store.get(latest))
    except orjson.JSONDecodeError:
        raise ArchiveError(f"lease {store.where(latest)} is damaged: not JSON") from None
    return gen, doc if isinstance(doc, dict) else None, info.modified if info else None


class S3Lease:
    """Held by one run; heartbeats from a daemon thread until released."""

    stale_seconds = STALE_SECONDS
    heartbeat_seconds = HEARTBEAT_SECONDS

    def __init__(self, store: S3Store, generation: int, doc: dict[str, Any]) -> None:
        self._store = store
        self.generation = generation
        self.doc = doc
        self.lost: str | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat_loop, name="s3-lease", daemon=True)
        self._thread.start()

    @classmethod
    def acquire(cls, store: S3Store, owner: str) -> S3Lease:
        gen, doc, modified = lease_state(store)
        now = datetime.now(UTC)
        taken_over = None
        if doc is not None and doc.get("state") == "held":
            age = (now - modified).total_seconds() if modified else 0.0
            if age < cls.stale_seconds and not _dead_here(doc):
                holder = doc.get("holder", {})
                raise ArchiveBusyError(
                    f"another crawler is writing to {store.url} (host {holder.get('host')}, "
                    f"pid {holder.get('pid')}, since {doc.get('since')}; last heartbeat "
                    f"{age:.0f} s ago; taken over when {cls.stale_seconds:.0f} s old)"
                )
            taken_over = gen
        since = now.isoformat(timespec="seconds").replace("+00:00", "Z")
        mine = {
            "state": "held",
            "holder": {"host": socket.gethostname(), "pid": os.getpid(), "owner": owner,
                       "run_id": secrets.token_hex(8)},
            "since": since, "heartbeat_at": since, "generation": gen + 1,
            "taken_over": taken_over,
        }  # fmt: skip
        if not _put(store, gen + 1, mine):
            raise ArchiveBusyError(f"another crawler took the lock of {store.url} just now")
        return cls(store, gen + 1, mine)

    def beat(self) -> None:
        """Write the next generation; ArchiveBusyError if someone else wrote it first."""
        with self._lock:
            if self.lost:
                raise ArchiveBusyError(self.lost)
            doc = dict(self.doc, generation=self.generation + 1)
            doc["heartbeat_at"] = datetime.now(UTC).isoformat(timespec="seconds")
            doc["taken_over"] = None
            if not _put(self._store, self.generation + 1, doc):
                self.lost = (
                    f"the lock of {self._store.url} was taken over by another crawler "
                    "(this run's heartbeat came too late): stopping"
                )
                raise ArchiveBusyError(self.lost)
            self.generation += 1
            self.doc = doc

    def _beat_loop(self) -> None:
        while not self._stop.wait(self.heartbeat_seconds):
            try:
                self.beat()
            except Exception:  # noted in self.lost; the writer checks before each put
                if self.lost:
                    return

    def release(self) -> None:
        self._stop.set()
        with self._lock:
            if self.lost:
                return
            doc = dict(self.doc, state="released", generation=self.generation + 1)
            doc["released_at"] = datetime.now(UTC).isoformat(timespec="seconds")
            if _put(self._store, self.generation + 1, doc):
                self.generation += 1


def _dead_here(doc: dict[str, Any]) -> bool:
    """The holder ran on this host and its process is gone (killed): no need to wait."""
    holder = doc.get("holder") or {}
    pid = holder.get("pid")
    if holder.get("host") != socket.gethostname() or not isinstance(pid, int) or pid <= 0:
        return False
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _put(store: S3Store, generation: int, doc: dict[str, Any]) -> bool:
    body = orjson.dumps(doc, option=orjson.OPT_SORT_KEYS) + b"\n"
    return store.put_once(
        _key(generation), body, md5=hashlib.md5(body).hexdigest(),
        sha256=hashlib.sha256(body).hexdigest(), size=len(body), kind="lease", lock=False,
    )  # fmt: skip

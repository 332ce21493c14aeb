"""Legal holds on what a run writes (docs/ARCHIVE.md, "Object Lock", "Legal holds").

In a bucket every object of a project under a legal hold carries the S3 legal
hold: its record in every snapshot and each blob that record names
(:func:`record_keys`, the one definition ``hold add``, the crawl and ``verify``
share). Which projects are held is the retention store's business; the crawl
says so by running a project's work inside :func:`holding`, and every body put
there goes up with the hold in its own PUT (no extra request). What the
writer could not hold at write time (a blob that already existed, a document
first fetched for an unheld project) is held once the project's record is
stored (:meth:`HeldKeys.ensure`), and before the snapshot's manifest for
whatever a killed run left behind. On disk all of this is a no-op.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from typing import Any

from crawler.archive.rebuild import record_refs
from crawler.archive.refs import BlobRef
from crawler.archive.store.base import ObjectStore

__all__ = ["HeldKeys", "holding", "record_keys", "writing_held"]

# Set while a held project's requests run: its tasks (and the tasks they start) see it.
_HOLDING: ContextVar[bool] = ContextVar("crawler_legal_hold", default=False)


@contextlib.contextmanager
def holding(on: bool) -> Iterator[None]:
    """Every blob put inside (this task and the tasks it starts) is written held."""
    token = _HOLDING.set(on)
    try:
        yield
    finally:
        _HOLDING.reset(token)


def writing_held() -> bool:
    return _HOLDING.get()


def record_keys(
    key_of: Callable[[BlobRef], str], ref: BlobRef, record: dict[str, Any]
) -> Iterator[str]:
    """The keys of a project's objects in one snapshot: its record and what it names."""
    yield key_of(ref)
    for named, _kind in record_refs(record, "json"):
        yield key_of(named)


class HeldKeys:
    """The keys this process knows carry the legal hold, so each costs one request at most.

    Only a hint for this run: a key is added once the bucket accepted the hold (in
    the object's own PUT, or a PutObjectLegalHold). A new run starts empty.
    """

    def __init__(self, store: ObjectStore) -> None:
        self.store = store
        self._known: set[str] = set()
        self._lock = threading.Lock()
        self.placed = 0  # PutObjectLegalHold requests this run sent

    @property
    def active(self) -> bool:
        return self.store.worm

    def note(self, key: str) -> None:
        with self._lock:
            self._known.add(key)

    def known(self) -> set[str]:
        with self._lock:
            return set(self._known)

    def lift(self, keys: Iterable[str]) -> int:
        """Lift the legal hold this run put on ``keys`` (a release during the run)."""
        lifted = 0
        for key in keys:
            self.store.legal_hold(key, False)
            with self._lock:
                self._known.discard(key)
            lifted += 1
        return lifted

    def ensure(self, keys: Iterable[str]) -> int:
        """Put the legal hold on each key not known held; how many needed a request."""
        if not self.active:
            return 0
        placed = 0
        for key in keys:
            with self._lock:
                if key in self._known:
                    continue
            self.store.legal_hold(key, True)
            self.note(key)
            placed += 1
        with self._lock:
            self.placed += placed
        return placed

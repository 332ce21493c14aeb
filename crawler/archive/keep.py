"""What a snapshot reuses stays locked as long as the snapshot (docs/ARCHIVE.md, "Object Lock").

A bucket under Object Lock locks each object until its write time + the retention.
A new snapshot that refers to older objects (a deduplicated body, a file whose
listed md5 was already archived, a carried project's record and everything that
record names) must not outlive them: each is extended to the run's retention,
never shortened. Objects written by this run are known locked long enough and
cost no request. On disk (no WORM) all of this is a no-op.
"""

from __future__ import annotations

from typing import Any

from crawler.archive.blobs import BlobStore
from crawler.archive.index import Index
from crawler.archive.rebuild import record_refs
from crawler.archive.records import decode_record
from crawler.archive.refs import BlobRef
from crawler.archive.store.base import ObjectStore

__all__ = ["CARRIED_STATES", "keep_carried", "keep_log", "keep_record"]

CARRIED_STATES = ("carried", "gone")  # gone: may be carried from the parent too


def _locking(blobs: BlobStore) -> bool:
    return _store_locking(blobs.store)


def _store_locking(store: ObjectStore) -> bool:
    policy = getattr(store, "policy", None)
    return bool(store.worm and policy is not None and policy.active)


def keep_log(store: ObjectStore) -> int:
    """Extend every object of the seal's ``log/`` to the run's retention; how many changed.

    A snapshot is proven by its leaf *and* every leaf before it (the tree hash of a
    checkpoint covers them all) and by the checkpoints signed over them, so the
    whole log must stay as long as the newest snapshot: each run extends it, as it
    extends a reused blob (from the cache of known dates: mostly without a request).
    """
    if not _store_locking(store):
        return 0
    return sum(int(store.keep(key)) for key in store.list("log/"))


def keep_record(blobs: BlobStore, index: Index, record: dict[str, Any]) -> int:
    """Extend every blob a record names; how many were extended."""
    if not _locking(blobs):
        return 0
    extended = 0
    for ref, _kind in record_refs(record, "json"):
        extended += _keep(blobs, index, ref)
    return extended


def keep_carried(blobs: BlobStore, index: Index, snapshot_id: str) -> int:
    """Extend the records a snapshot carries from its parent, and what they name."""
    if not _locking(blobs):
        return 0
    extended = 0
    for row in index.projects(snapshot_id, CARRIED_STATES):
        if row.record is None:
            continue
        # Every blob a carried record names is judged on its own (from the cache of
        # known dates, so mostly without a request): a record locked long enough does
        # not vouch for its blobs, which may have been written, and locked, earlier.
        key = _key(blobs, index, row.record)
        record = decode_record(blobs.read(key, row.record), f"record {row.record.md5}")
        extended += keep_record(blobs, index, record)
        extended += _keep(blobs, index, row.record)
    return extended


def _key(blobs: BlobStore, index: Index, ref: BlobRef) -> str:
    row = index.find_blob(ref.md5, ref.sha256)
    return blobs.key_of(ref, None if row is None else row[1])


def _keep(blobs: BlobStore, index: Index, ref: BlobRef) -> int:
    return int(blobs.store.keep(_key(blobs, index, ref)))

"""Retention in a bucket: its rows as objects, the cache replayed, S3 legal holds.

In an S3 archive ``retention.sqlite`` is a local cache (docs/ARCHIVE.md, "Stores"):
each row (hold event, plan, intent, receipt) is first put once as
``retention/<at>-<kind>-<random>.json``, so holds and the record of every delete
upstream live in the bucket. Opening replays the objects the cache has not applied,
in key order (time order). A legal hold also puts the S3 legal hold on every
object of the held projects; a release lifts it only where no hold in force
still covers the object. On disk, all of this is the plain file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from crawler.archive import Archive
from crawler.archive.holding import record_keys
from crawler.archive.journal import journalled, put_row, replay, timed_key
from crawler.archive.records import decode_record
from crawler.errors import ArchiveError
from crawler.retention.holds import Hold, active_holds, holds_covering
from crawler.retention.store import JOURNAL_KINDS, RetentionStore

__all__ = ["apply_legal_holds", "covered_keys", "open_retention", "open_retention_reader"]

_PREFIX = "retention/"


def open_retention(
    archive: Archive, opener: Callable[[Path], RetentionStore] = RetentionStore.open
) -> RetentionStore:
    """The writer's store: in a bucket, synced and journalled to it. ``opener`` makes the
    store (the seal's :class:`SealedStore`, whose every write of history is logged)."""
    return journalled(
        archive.store,
        opener(archive.path),
        lambda s: _sync(archive, s),
        lambda kind, row: _put(archive, kind, row),
    )


def open_retention_reader(archive: Archive) -> RetentionStore:
    """A reader's store; in a bucket the cache is brought up to date first."""
    if archive.store.kind != "disk":
        with RetentionStore.open(archive.path) as cache:
            _sync(archive, cache)
    return RetentionStore.open_reader(archive.path)


def _put(archive: Archive, kind: str, row: dict[str, Any]) -> str:
    key = timed_key(_PREFIX, kind)
    if not put_row(archive.store, key, kind, row, "retention"):
        raise ArchiveError(f"{archive.store.where(key)} already exists")
    return key


def _sync(archive: Archive, cache: RetentionStore) -> None:
    replay(archive.store, _PREFIX, cache.applied_keys(), JOURNAL_KINDS, cache.replay,
           "retention row")  # fmt: skip


# -- S3 legal holds ------------------------------------------------------------------------------


def apply_legal_holds(archive: Archive, retention: RetentionStore, before: list[Hold]) -> int:
    """Put the legal hold ON where a hold in force covers, OFF where none does any more.

    ``before``: the holds in force before this change. Returns the objects changed.
    """
    if archive.store.kind == "disk":
        return 0
    after = active_holds(retention.hold_events())
    keep = set(covered_keys(archive, after))
    changed = 0
    for key in sorted(keep):
        archive.store.legal_hold(key, True)
        changed += 1
    for key in sorted(set(covered_keys(archive, before)) - keep):
        archive.store.legal_hold(key, False)
        changed += 1
    return changed


def covered_keys(archive: Archive, holds: list[Hold]) -> Iterator[str]:
    """The keys of every object of every project the holds cover, in every snapshot
    (:func:`~crawler.archive.holding.record_keys`: what the crawl holds, what verify checks)."""
    if not holds:
        return
    seen: set[str] = set()
    for snap in archive.index.list_snapshots():
        for row in archive.index.projects(snap.id):
            if row.record is None or not holds_covering(holds, row.list_entry):
                continue
            record = decode_record(archive.blobs.read(row.record), f"record {row.record.md5}")
            for key in record_keys(archive.blobs.key_of, row.record, record):
                if key not in seen:
                    seen.add(key)
                    yield key

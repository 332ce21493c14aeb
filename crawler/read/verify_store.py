"""``crawler verify`` on an archive in a bucket: the store's own walk, and its locks.

The checks of :mod:`crawler.read.verify` go through the store's calls (head, get,
stream); what only a bucket has is checked here (docs/ARCHIVE.md, "Checks"):

- full: every object under ``blobs/`` read back from the bucket and rehashed;
- locks: every object a finished snapshot refers to (its manifest, its records,
  the blobs they name) carries a lock no shorter than the snapshot needs: the
  policy given to verify, else the one its run recorded in the manifest
  (``settings.object_lock``, ``settings.retain_seconds``), until the snapshot's
  start plus the retention; in full mode each such object has one version only;
- the seal's log: every object under ``log/`` locked at least until the latest
  date any of those snapshots needs (the whole log proves each of them: see
  docs/ARCHIVE.md, "Object Lock").
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any, Protocol

from crawler.archive import Archive, SnapshotRow
from crawler.archive.index import FINISHED_STATUSES
from crawler.archive.manifest import current_manifest_key
from crawler.archive.rebuild import record_refs
from crawler.archive.refs import MD5_RE, SHA256_RE
from crawler.archive.store import LockPolicy, ObjectStore
from crawler.canonical import parse_instant
from crawler.errors import ArchiveError


class VerifyReport(Protocol):
    """What these checks need of :class:`crawler.read.verify.VerifyReport`."""

    notes: list[str]
    checked: Counter[str]

    def problem(self, kind: str, subject: str, message: str) -> None: ...


__all__ = ["check_locks", "hash_object", "walk_store_blobs"]

# A store's clock and ours may differ by this much; a lock shorter by more is a problem.
_SLACK = timedelta(seconds=2)


def hash_object(store: ObjectStore, key: str) -> tuple[str, str, int]:
    """(md5, sha256, size) of an object, streamed from the store."""
    md5, sha, size = hashlib.md5(), hashlib.sha256(), 0
    with store.stream(key) as f:
        while chunk := f.read(1 << 20):
            md5.update(chunk)
            sha.update(chunk)
            size += len(chunk)
    return md5.hexdigest(), sha.hexdigest(), size


def walk_store_blobs(archive: Archive, report: VerifyReport) -> dict[str, tuple[str, str, int]]:
    """Full mode: rehash every object under blobs/ from the store; damage is a problem."""
    store, hashed = archive.store, {}
    for key in store.list("blobs/"):
        shard, _, name = key.removeprefix("blobs/").partition("/")
        md5_name, _, sha_name = name.partition(".")
        if (
            not MD5_RE.fullmatch(md5_name)
            or not md5_name.startswith(shard)
            or (sha_name and not SHA256_RE.fullmatch(sha_name))
        ):
            report.notes.append(f"stray object in blobs/: {store.where(key)}")
            continue
        try:
            md5, sha, size = hash_object(store, key)
        except ArchiveError as exc:
            report.problem("blob_unreadable", store.where(key), str(exc))
            continue
        report.checked["hashed"] += 1
        hashed[key] = (md5, sha, size)
        if md5 != md5_name or (sha_name and sha != sha_name):
            report.problem(
                "blob_corrupt", store.where(key), f"content hashes to md5 {md5}, not its name"
            )
        elif archive.index.find_blob(md5, sha) is None:
            report.notes.append(f"orphan blob (not in the index): {store.where(key)}")
    return hashed


def check_locks(
    archive: Archive,
    report: VerifyReport,
    snapshots: Iterable[SnapshotRow],
    policy: LockPolicy | None,
    *,
    full: bool,
) -> None:
    """Every object of every finished snapshot locked at least as long as it needs;
    and the log at least as long as the latest of them."""
    seen: dict[str, datetime | None] = {}
    log_need: tuple[datetime, LockPolicy] | None = None
    for snap in snapshots:
        if snap.status not in FINISHED_STATUSES or snap.manifest_sha256 is None:
            continue
        need = policy if policy is not None and policy.active else _recorded(archive, snap)
        if need is None or not need.active:
            continue
        until = parse_instant(snap.started_at) + timedelta(seconds=need.retain_seconds)
        if log_need is None or until > log_need[0]:
            log_need = (until, need)
        for key in _snapshot_keys(archive, snap):
            if key in seen and (seen[key] is None or seen[key] >= until):  # type: ignore[operator]
                continue
            seen[key] = _check_one(archive, report, key, need, until, full=full)
            report.checked["locks"] += 1
    if log_need is not None:
        for key in archive.store.list("log/"):
            _check_one(
                archive,
                report,
                key,
                log_need[1],
                log_need[0],
                full=full,
                what="the log (as long as its latest snapshot)",
            )
            report.checked["log_locks"] += 1


def _recorded(archive: Archive, snap: SnapshotRow) -> LockPolicy | None:
    settings: dict[str, Any] = snap.settings if isinstance(snap.settings, dict) else {}
    mode = settings.get("object_lock")
    if not isinstance(mode, str) or mode == "off":
        return None
    return LockPolicy(mode, int(settings.get("retain_seconds") or 0))


def _snapshot_keys(archive: Archive, snap: SnapshotRow) -> Iterable[str]:
    yield current_manifest_key(archive.store, snap.id)
    for row in archive.index.projects(snap.id):
        if row.record is None:
            continue
        yield archive.blobs.key_of(row.record)
        try:
            record = archive.read_record(row.record)
        except ArchiveError:
            continue  # reported by the record checks already
        for ref, _kind in record_refs(record, "json"):
            yield archive.blobs.key_of(ref)


def _check_one(
    archive: Archive,
    report: VerifyReport,
    key: str,
    need: LockPolicy,
    until: datetime,
    *,
    full: bool,
    what: str = "the snapshot",
) -> datetime | None:
    store = archive.store
    info = store.head(key)
    if info is None:
        return None  # missing: the blob checks say so
    if info.lock_mode is None or info.retain_until is None:
        report.problem("lock_missing", store.where(key), f"no Object Lock; {need.mode} needed")
        return None
    if info.retain_until + _SLACK < until:
        report.problem(
            "lock_short",
            store.where(key),
            f"locked until {info.retain_until.isoformat()}, {what} needs {until.isoformat()}",
        )
    if full:
        versions = getattr(store, "versions", None)
        if versions is not None and versions(key) != 1:
            report.problem("versions", store.where(key), "more than one version: overwritten")
    return info.retain_until

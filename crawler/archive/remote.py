"""Opening an archive in a bucket: checks first, then the lease, the marker, the cache.

Before anything is written (docs/ARCHIVE.md, "Stores"): the endpoint answers (in
seconds), the credentials are accepted, the bucket exists, and, when a lock is
asked for, the bucket has Object Lock. Then a writer takes the lease, writes the
marker of a new archive, and opens the local cache, which is rebuilt from the
bucket when it is missing or behind (saying so on stderr).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
from pathlib import Path

from crawler.archive.fs import make_dir, os_error
from crawler.archive.index import Index
from crawler.archive.layout import INDEX, MARKER, check_marker, new_marker, sweep_tmp
from crawler.archive.rebuild import bucket_manifests, rebuild_index
from crawler.archive.store.base import ObjectMissingError
from crawler.archive.store.location import S3Location
from crawler.archive.store.s3 import S3Store
from crawler.archive.store.s3_client import S3Bridge, S3Settings, error_code
from crawler.archive.store.s3_untils import UntilCache
from crawler.errors import ArchiveError, UsageError

__all__ = ["connect_store", "object_lock_enabled", "open_cache_index", "prepare_bucket"]

BUCKET_HOWTO = (
    "Object Lock can only be turned on when a bucket is created: "
    "aws s3api create-bucket --bucket NAME --object-lock-enabled-for-bucket "
    "(then a default retention with put-object-lock-configuration; README, 'Bucket set-up')"
)


def say(message: str) -> None:
    print(f"crawler: {message}", file=sys.stderr, flush=True)


def connect_store(location: S3Location) -> S3Store:
    """A store for the location, after the endpoint, credentials and bucket are checked."""
    bridge = S3Bridge(S3Settings(location.endpoint), location.url)
    cache = location.cache_dir
    try:
        cache.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        bridge.close()
        raise os_error(exc, "create the cache", cache) from exc
    untils = UntilCache(cache / "untils.sqlite")
    store = S3Store(
        bridge, location.bucket, location.prefix, location.policy, untils, cache / "objects"
    )
    try:
        _check_bucket(store, location)
    except BaseException:
        store.close()
        raise
    return store


def _check_bucket(store: S3Store, location: S3Location) -> None:
    bridge = store.bridge
    attempts, bridge.settings.attempts = bridge.settings.attempts, 2  # say so in seconds
    try:
        bridge.call("head_bucket", Bucket=location.bucket)
    except ArchiveError as exc:
        code = error_code(exc.__cause__) if exc.__cause__ else None
        if code in ("404", "NoSuchBucket", "NotFound"):
            raise UsageError(f"bucket {location.bucket} does not exist ({location.url})") from None
        raise
    finally:
        bridge.settings.attempts = attempts
    if location.policy.active and not object_lock_enabled(store):
        raise UsageError(
            f"--object-lock {location.policy.mode}: bucket {location.bucket} has no "
            f"Object Lock, so nothing was written. {BUCKET_HOWTO}"
        )


def object_lock_enabled(store: S3Store) -> bool:
    """Whether the bucket has Object Lock (without it, no lock and no legal hold can be set)."""
    try:
        conf = store.bridge.call("get_object_lock_configuration", Bucket=store.bucket)
    except ArchiveError:
        return False
    return bool(conf.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled") == "Enabled")


def prepare_bucket(store: S3Store) -> None:
    """The marker: checked, or written first for a new archive (an empty prefix only)."""
    try:
        check_marker(store.get(MARKER), store.url, store.where(MARKER))
        return
    except ObjectMissingError:
        pass
    for key in store.list(""):
        if not key.startswith("locks/"):
            raise ArchiveError(
                f"{store.url} holds objects but no {MARKER} marker: not a crawler archive; "
                "refusing to write into it"
            )
    data = new_marker("s3")
    md5, sha = hashlib.md5(data).hexdigest(), hashlib.sha256(data).hexdigest()
    store.put_once(MARKER, data, md5=md5, sha256=sha, size=len(data), kind="marker")


def open_cache_index(store: S3Store, location: S3Location, *, writable: bool) -> Index:
    """The cache's index, rebuilt first when missing or behind the bucket."""
    cache = location.cache_dir
    try:
        cache.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        make_dir(cache)
        make_dir(cache / "tmp")
        if writable:
            sweep_tmp(cache / "tmp")
    except OSError as exc:
        raise os_error(exc, "create the cache", cache) from exc
    if _behind(store, cache / INDEX):
        rebuild_index(store, cache, say)
    if writable:
        return Index.open_writer(cache / INDEX, create=False)
    return Index.open_reader(cache / INDEX)


def _behind(store: S3Store, path: Path) -> bool:
    """Missing, or the bucket holds a manifest revision the cache does not know."""
    if not path.exists():
        return True
    index = Index.open_reader(path)
    try:
        known = {s.id: s.manifest_sha256 for s in index.list_snapshots()}
    finally:
        index.close()
    return any(known.get(sid) is None for sid in bucket_manifests(store))


def remove_cache(location: S3Location) -> None:
    """Forget the cache (tests, and a person who wants a fresh rebuild)."""
    for name in (INDEX, INDEX + "-wal", INDEX + "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(location.cache_dir / name)

"""The leaf cache of a log kept in a bucket: few reads to open, and never trusted blindly.

A bucket is played by a store that is not a :class:`DiskStore` (so the log treats it
as one: every leaf an object, a cache beside it) over a directory, counting reads.
The real bucket's figures are in tests/s3/test_s3_leaf_cache.py.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from crawler.archive import logstore
from crawler.archive.leafcache import LEAF_CACHE
from crawler.archive.log import Event, Log, init_log
from crawler.archive.store.disk import DiskStore

N = 30
AT = "2026-01-01T00:00:00Z"


class Bucketish:
    """A directory as a bucket would be read: put-once, get, list; each read counted."""

    kind, worm = "test", True

    def __init__(self, root: Path, cache: Path) -> None:
        (root / "tmp").mkdir(parents=True)
        self.disk = DiskStore(root)
        self.url = f"test://{root}"
        self.local = cache / "objects"  # the cache directory is its parent, as in S3Store
        cache.mkdir(exist_ok=True)
        self.reads: Counter[str] = Counter()

    def where(self, key: str) -> str:
        return f"{self.url}/{key}"

    def put_once(self, key: str, source: Any, **kw: Any) -> bool:
        self.disk.path(key).parent.mkdir(parents=True, exist_ok=True)  # a bucket has no dirs
        return self.disk.put_once(key, source, **kw)

    def get(self, key: str) -> bytes:
        self.reads["get"] += 1
        return self.disk.get(key)

    def exists(self, key: str) -> bool:
        self.reads["head"] += 1
        return self.disk.exists(key)

    def list(self, prefix: str) -> Iterator[str]:
        self.reads["list"] += 1
        return self.disk.list(prefix)


def events(n: int, start: int = 0) -> list[Event]:
    return [Event("plan", f"p{i}", f"{i:064x}", AT) for i in range(start, start + n)]


@pytest.fixture
def sealed(tmp_path: Path) -> tuple[Bucketish, Ed25519PrivateKey, list[bytes]]:
    """A log of N leaves, signed; its cache deleted (another machine)."""
    store, key = Bucketish(tmp_path / "bucket", tmp_path / "cache"), Ed25519PrivateKey.generate()
    init_log(store, "crawler-archive/test/leafcache", key)  # type: ignore[arg-type]
    log = Log.open(store)  # type: ignore[arg-type]
    assert log is not None and log.append(events(N)) == N
    log.sign(key)
    (tmp_path / "cache" / LEAF_CACHE).unlink()
    return store, key, list(log.leaves)


def opened(store: Bucketish, **kw: Any) -> tuple[Log, dict[str, int]]:
    store.reads.clear()
    log = Log.open(store, **kw)  # type: ignore[arg-type]
    assert log is not None
    return log, dict(store.reads)


def db(store: Bucketish) -> sqlite3.Connection:
    return sqlite3.connect(store.local.parent / LEAF_CACHE, isolation_level=None)


def test_a_second_open_reads_no_leaf(sealed: tuple[Bucketish, Any, list[bytes]]) -> None:
    store, _, leaves = sealed
    first, reads = opened(store)
    assert first.leaves == leaves and reads == {"get": N + 2}  # key.json, N leaves, the end
    again, reads = opened(store)
    # key.json, the latest checkpoint (listed, read), leaf N (none: the end)
    assert again.leaves == leaves and reads == {"get": 3, "list": 1}
    assert again.root_hash() == first.root_hash()


def test_new_leaves_are_read_and_cached_ones_past_the_checkpoint_are_not_trusted(
    sealed: tuple[Bucketish, Ed25519PrivateKey, list[bytes]],
) -> None:
    store, key, _ = sealed
    opened(store)
    other = Log.open(store)  # type: ignore[arg-type]
    assert other is not None and other.append(events(4, start=N)) == 4  # not signed yet
    log, reads = opened(store)
    assert log.size == N + 4 and reads == {"get": 3 + 4, "list": 1}  # those four, from the bucket
    log.sign(key)
    _, reads = opened(store)
    assert reads == {"get": 3, "list": 1}


def test_an_altered_cached_leaf_is_found_and_the_bucket_read(
    sealed: tuple[Bucketish, Ed25519PrivateKey, list[bytes]],
) -> None:
    store, _, leaves = sealed
    opened(store)
    forged = leaves[5].replace(b"p5", b"p9")
    with db(store) as conn:
        conn.execute("UPDATE leaves SET data = ? WHERE idx = 5", (forged,))
    log, reads = opened(store)
    assert log.leaves == leaves  # the bucket's, not the cache's
    assert reads["get"] == 2 + N + 1  # key, checkpoint, every leaf again, the end
    _, reads = opened(store)  # the cache holds the bucket's leaves again
    assert reads == {"get": 3, "list": 1}
    # verify reads the bucket whatever the cache says, and says where the cache differed.
    with db(store) as conn:
        conn.execute("UPDATE leaves SET data = ? WHERE idx = 5", (forged,))
    log, reads = opened(store, use_cache=False)
    assert log.leaves == leaves and log.cache_differs == [5] and reads == {"get": N + 2}


def test_a_cache_that_is_no_database_or_another_logs_is_not_used(
    sealed: tuple[Bucketish, Ed25519PrivateKey, list[bytes]], tmp_path: Path
) -> None:
    store, _, leaves = sealed
    path = store.local.parent / LEAF_CACHE
    path.write_bytes(b"this is not a database" * 100)
    log, reads = opened(store)
    assert log.leaves == leaves and reads == {"get": N + 2}
    _, reads = opened(store)
    assert reads == {"get": 3, "list": 1}  # rebuilt as a new file

    # Another log at the same address (a bucket made again): its cached leaves are dropped.
    fresh = Bucketish(tmp_path / "bucket2", store.local.parent)
    key2 = Ed25519PrivateKey.generate()
    init_log(fresh, "crawler-archive/test/other", key2)  # type: ignore[arg-type]
    log2, reads = opened(fresh)
    assert log2.size == 0 and reads == {"get": 2}
    assert log2.append(events(3, start=100)) == 3
    log2.sign(key2)
    log, reads = opened(store)  # and back: the other log's leaves were not ours
    assert log.leaves == leaves and reads == {"get": N + 2}


def test_a_cache_the_checkpoint_does_not_vouch_for_is_not_used(
    sealed: tuple[Bucketish, Ed25519PrivateKey, list[bytes]],
) -> None:
    """Cached leaves a valid signature does not cover (a forged checkpoint, none at all)."""
    store, _, leaves = sealed
    opened(store)
    forged = logstore.get(store, f"checkpoints/{N}")  # type: ignore[arg-type]
    assert forged is not None
    # A later checkpoint whose signature does not hold: nothing vouches for the cache.
    store.disk.put_once(
        f"log/checkpoints/{N + 1}", forged.replace(b"\n30\n", b"\n31\n"), md5="", sha256="", size=0
    )
    log, reads = opened(store)
    assert log.leaves == leaves and reads == {"get": 2 + N + 1, "list": 1}

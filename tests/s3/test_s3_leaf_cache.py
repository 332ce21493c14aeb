"""The seal's leaves cached on this machine: a second open costs a few requests, not one per leaf.

Counted at the client (``S3Bridge.requests``, ``by_op``) against the real server. A
cached copy is used only where the bucket's signed checkpoint vouches for it, and
``crawler verify`` reads the bucket's leaves whatever the cache holds.
"""

from __future__ import annotations

from contextlib import redirect_stdout
from io import StringIO
from pathlib import Path

import pytest

from crawler.archive import Archive
from crawler.archive.leafcache import LEAF_CACHE
from crawler.archive.log import Event, Log
from crawler.archive.note import load_private_key
from crawler.archive.store.location import parse_archive
from crawler.archive.store.s3 import S3Store
from crawler.cli import main
from crawler.simulator import Simulator
from tests.s3.conftest import Bucket
from tests.s3.test_s3_seal import _sealed

pytestmark = pytest.mark.timeout(240)

N = 60  # leaves added to the two the crawls logged


def run(*args: str, code: int = 0) -> str:
    out = StringIO()
    with redirect_stdout(out):
        assert main(list(args)) == code, out.getvalue()
    return out.getvalue()


def opened(url: str) -> tuple[Log, int, dict[str, int]]:
    """The log opened as a command opens it; the requests that took, and by operation."""
    with Archive.open_for_reading(parse_archive(url)) as archive:
        store = archive.store
        assert isinstance(store, S3Store)
        before, ops = store.bridge.requests, dict(store.bridge.by_op)
        log = Log.open(store)
        assert log is not None
        spent = {k: v - ops.get(k, 0) for k, v in store.bridge.by_op.items() if v > ops.get(k, 0)}
        return log, store.bridge.requests - before, spent


async def test_a_second_open_reads_only_what_the_cache_lacks_and_verify_reads_the_bucket(
    sim: Simulator, bucket: Bucket, tmp_path: Path
) -> None:
    url, key_file, vkey = await _sealed(sim, bucket, tmp_path)
    with Archive.open_for_reading(parse_archive(url)) as archive:
        log = Log.open(archive.store)
        assert log is not None
        at = "2026-01-01T00:00:00Z"
        assert log.append([Event("plan", f"p{i}", f"{i:064x}", at) for i in range(N)]) == N
        log.sign(load_private_key(key_file))
    (cache,) = bucket.cache.glob(f"*/{LEAF_CACHE}")
    cache.unlink()  # another machine: no copy of any leaf

    cold, cold_requests, cold_ops = opened(url)
    warm, warm_requests, warm_ops = opened(url)
    print(f"open a log of {cold.size} leaves: {cold_requests} requests {cold_ops}, "
          f"then {warm_requests} requests {warm_ops}")  # fmt: skip
    assert cold.size == warm.size == N + 2 and warm.leaves == cold.leaves
    assert cold_requests == cold.size + 2  # key.json, every leaf, the first index that is none
    # key.json, the checkpoints listed and the latest read, the first index that is none
    assert warm_requests == 4 and warm_ops == {"get_object": 3, "list_objects_v2": 1}

    # A leaf rewritten in the bucket (a new version under the same key): this machine
    # still opens the history the key signed, and verify, reading the bucket, says so.
    original = bucket.client.get_object(Bucket=bucket.name, Key="arc/log/leaves/5")["Body"].read()
    altered = original.replace(b'"p3"', b'"p9"')
    assert altered != original
    bucket.client.put_object(Bucket=bucket.name, Key="arc/log/leaves/5", Body=altered)
    after, _, _ = opened(url)
    assert after.leaves[5] == original
    out = run("verify", "--archive", url, "--public-key", vkey, code=1)
    assert "edited" in out and "as this machine cached them are not the bucket's" in out
    # The cache never makes verify accept it: without the cache, the same verdict.
    cache.unlink()
    out = run("verify", "--archive", url, "--public-key", vkey, code=1)
    assert "edited" in out and "as this machine cached them" not in out

"""The seal's leaves cached on this machine: a second open costs a few requests, not one per leaf.

Counted at the client (``S3Bridge.requests``, ``by_op``, and each GET of a leaf)
against the real server. A cached copy is used only where the bucket's signed
checkpoint vouches for it, and ``crawler verify`` reads the bucket's leaves
whatever the cache holds.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from io import StringIO
from pathlib import Path
from typing import Any

import pytest

from crawler.archive import Archive
from crawler.archive.leafcache import LEAF_CACHE
from crawler.archive.log import Log
from crawler.archive.store.location import parse_archive
from crawler.archive.store.s3 import S3Store
from crawler.archive.store.s3_client import S3Bridge
from crawler.cli import main
from crawler.simulator import Simulator
from tests.s3.conftest import Bucket
from tests.s3.test_s3_seal import LOCK, _sealed

pytestmark = pytest.mark.timeout(240)

N = 12  # holds added, a leaf each, to the two leaves the crawls logged


def run(*args: str, code: int = 0) -> str:
    out = StringIO()
    with redirect_stdout(out):
        assert main(list(args)) == code, out.getvalue()
    return out.getvalue()


@contextmanager
def leaf_gets(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The keys of every leaf GET sent meanwhile, by any command's client."""
    sent: list[str] = []
    real = S3Bridge.call

    def counted(self: S3Bridge, op: str, /, **kwargs: Any) -> Any:
        if op == "get_object" and "/log/leaves/" in str(kwargs.get("Key")):
            sent.append(str(kwargs["Key"]))
        return real(self, op, **kwargs)

    with monkeypatch.context() as m:
        m.setattr(S3Bridge, "call", counted)
        yield sent


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
    sim: Simulator, bucket: Bucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, key_file, vkey = await _sealed(sim, bucket, tmp_path)
    monkeypatch.setenv("CRAWLER_SIGNING_KEY_FILE", str(key_file))
    (cache,) = bucket.cache.glob(f"*/{LEAF_CACHE}")
    cache.unlink()  # another machine: no copy of any leaf
    with leaf_gets(monkeypatch) as sent:
        per_command = []
        for n in range(N):  # each hold a leaf, signed: the next command reads none
            sent.clear()
            run("hold", "add", "--archive", url, "--matter", f"M{n}", "--project", "p", *LOCK)
            per_command.append(len(sent))
        # The end is asked for twice, when the log is opened and again before the append
        # (another writer may have appended meanwhile). Without the cache: every leaf too.
        assert per_command[0] == 2 + 2  # the two leaves, nothing cached yet
        assert per_command[1:] == [2] * (N - 1)  # no leaf (its own leaf was cached)
        sent.clear()
        assert "verify (fast): ok" in run("verify", "--archive", url, "--public-key", vkey)
        assert len(sent) == N + 2 + 1  # verify reads the bucket's leaves, every one

    cache.unlink()
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
    altered = original.replace(b'"M3"', b'"M9"')
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

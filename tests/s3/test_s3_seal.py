"""The seal in a bucket: log/ objects written once with the run's lock; keys, checkpoint, verify."""

from __future__ import annotations

import shutil
from contextlib import redirect_stdout
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path

import pytest

from crawler.archive import Archive, logstore
from crawler.archive.log import Event, Log
from crawler.archive.note import open_note, parse_checkpoint, parse_vkey
from crawler.archive.store.location import parse_archive
from crawler.archive.store.s3 import S3Store
from crawler.cli import main
from crawler.errors import SealError
from crawler.simulator import Simulator
from tests.s3.conftest import Bucket
from tests.support import crawl

pytestmark = pytest.mark.timeout(240)

LOCK = ("--object-lock", "governance", "--retain", "60s")


def run(*args: str, code: int = 0) -> str:
    out = StringIO()
    with redirect_stdout(out):
        assert main(list(args)) == code, out.getvalue()
    return out.getvalue()


async def _sealed(sim: Simulator, bucket: Bucket, tmp_path: Path) -> tuple[str, Path, str]:
    """A crawl, ``keys init`` on the bucket, a signed crawl: (url, key file, vkey)."""
    url, key_file = bucket.url(), tmp_path / "signing.pem"
    assert await crawl(sim.base_url, sim.key, url, *LOCK) == 0  # type: ignore[arg-type]
    out = run("keys", "init", "--archive", url, "--key-file", str(key_file), "--org", "acme", *LOCK)
    assert f"the archive {url} is sealed" in out and "1 events" in out
    vkey = out.rsplit(": ", 1)[1].strip()
    signed = await crawl(sim.base_url, sim.key, url, *LOCK, signing_key_file=key_file)  # type: ignore[arg-type]
    assert signed == 0
    return url, key_file, vkey


async def test_a_sealed_bucket_keeps_its_log_as_locked_objects_and_verifies(
    sim: Simulator, bucket: Bucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, key_file, vkey = await _sealed(sim, bucket, tmp_path)
    assert sorted(bucket.keys("arc/log/leaves/")) == ["arc/log/leaves/0", "arc/log/leaves/1"]
    assert "arc/log/key.json" in bucket.keys("arc/log/")
    # The leaves are the bucket's objects; the cache holds no log/ of its own (only copies
    # of leaves in log-leaves.sqlite, a hint: see test_s3_leaf_cache.py).
    assert not list(bucket.cache.rglob("leaves"))
    # Each leaf is locked as the run that wrote it asked (governance, about 60s from then).
    head = bucket.client.head_object(Bucket=bucket.name, Key="arc/log/leaves/1")
    assert head["ObjectLockMode"] == "GOVERNANCE"
    left = (head["ObjectLockRetainUntilDate"] - datetime.now(UTC)).total_seconds()
    assert 0 < left <= 61
    checkpoints = bucket.keys("arc/log/checkpoints/")
    assert checkpoints and all(
        bucket.client.head_object(Bucket=bucket.name, Key=k)["ObjectLockMode"] == "GOVERNANCE"
        for k in checkpoints
    )

    saved = run("checkpoint", "--archive", url)
    cp = parse_checkpoint(open_note(saved, parse_vkey(vkey)))
    assert cp.origin.startswith("crawler-archive/acme/") and cp.size == 2
    assert run("keys", "show", "--archive", url) == vkey + "\n"
    out = run("verify", "--archive", url, "--public-key", vkey)
    assert "verify (fast): ok" in out and "2 log leaves checked" in out
    export = tmp_path / "e.ndjson"
    run("export", "--archive", url, "--out", str(export))
    assert export.with_name("e.ndjson.seal.json").is_file()  # the proof read from the bucket
    run("verify-export", str(export.with_name("e.ndjson.manifest.json")), "--public-key", vkey)

    # The archive grows (a hold without the lease, a crawl), on another machine.
    kept = tmp_path / "audit.checkpoint"
    kept.write_text(saved)
    shutil.rmtree(bucket.cache)
    monkeypatch.setenv("CRAWLER_SIGNING_KEY_FILE", str(key_file))
    run("hold", "add", "--archive", url, "--matter", "M", "--project", "claude_proj_x")
    assert await crawl(sim.base_url, sim.key, url, *LOCK, signing_key_file=key_file) == 0  # type: ignore[arg-type]
    out = run("verify", "--archive", url, "--checkpoint", str(kept), "--public-key", vkey)
    assert "the log extends it (2 -> 4 leaves, proved)" in out and "4 log leaves checked" in out
    assert "verify (fast): ok" in out


async def test_a_leaf_is_never_replaced_and_a_racing_writer_takes_the_next_index(
    sim: Simulator, bucket: Bucket, tmp_path: Path
) -> None:
    url, _, _ = await _sealed(sim, bucket, tmp_path)
    with Archive.open_for_reading(parse_archive(url)) as archive:
        store = archive.store
        with pytest.raises(SealError, match="written once"):
            logstore.put_once(store, "leaves/0", b"{}\n")
        logstore.put_once(store, "leaves/0", store.get("log/leaves/0"))  # the same: no error
        assert isinstance(store, S3Store) and store.versions("log/leaves/0") == 1
        # Two writers that read the log at the same size: the second's leaf 2 is taken,
        # so it reads the first's and logs its event as leaf 3.
        first, second = Log.open(store), Log.open(store)
        assert first is not None and second is not None and second.size == 2
        at = "2026-01-01T00:00:00Z"
        assert first.append([Event("plan", "a", "0" * 64, at, {"n": 1})]) == 1
        assert second.append([Event("plan", "b", "1" * 64, at, {"n": 2})]) == 1
        assert [e.id for e, _ in second.events[2:]] == ["a", "b"]
        assert sorted(logstore.names(store, "leaves"), key=int) == ["0", "1", "2", "3"]

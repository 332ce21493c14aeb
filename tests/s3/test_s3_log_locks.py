"""The seal's log in a bucket stays locked as long as the newest snapshot it proves.

Through the server itself: ``verify`` accepts a sealed, locked bucket; a ``log/``
object whose lock was shortened (governance, by a caller allowed to bypass it) or
that has none is a problem naming it; the next run extends every log object to its
own retention, and ``verify`` accepts the bucket again.
"""

from __future__ import annotations

import hashlib
from contextlib import redirect_stdout
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path

import pytest

from crawler.archive.store.location import parse_archive
from crawler.canonical import parse_instant
from crawler.cli import main
from crawler.read.reader import ArchiveReader
from crawler.simulator import Simulator
from tests.s3.conftest import Bucket
from tests.support import crawl

pytestmark = pytest.mark.timeout(240)

LOCK = ("--object-lock", "governance", "--retain", "1h")


def run(*args: str, code: int = 0) -> str:
    out = StringIO()
    with redirect_stdout(out):
        assert main(list(args)) == code, out.getvalue()
    return out.getvalue()


def until(bucket: Bucket, key: str) -> datetime:
    head = bucket.client.head_object(Bucket=bucket.name, Key=key)
    assert head["ObjectLockMode"] == "GOVERNANCE"
    value: datetime = head["ObjectLockRetainUntilDate"]
    return value


def newest_need(url: str) -> datetime:
    """The latest finished snapshot's start plus the retention."""
    with ArchiveReader.open(parse_archive(url)) as reader:
        started = reader.snapshot().started_at
    return parse_instant(started) + timedelta(hours=1)


async def test_verify_checks_the_logs_locks_and_each_run_extends_them(
    sim: Simulator, bucket: Bucket, tmp_path: Path
) -> None:
    url, key_file = bucket.url(), tmp_path / "signing.pem"
    assert await crawl(sim.base_url, sim.key, url, *LOCK) == 0  # type: ignore[arg-type]
    run("keys", "init", "--archive", url, "--key-file", str(key_file), "--org", "acme", *LOCK)
    signed = await crawl(sim.base_url, sim.key, url, *LOCK, signing_key_file=key_file)  # type: ignore[arg-type]
    assert signed == 0
    log = bucket.keys("arc/log/")
    assert "arc/log/leaves/0" in log and "arc/log/key.json" in log
    assert all(until(bucket, k) >= newest_need(url) - timedelta(seconds=2) for k in log)
    assert "verify (fast): ok" in run("verify", "--archive", url)

    # Leaf 0 shortened below what the newest snapshot needs, and a log object unlocked.
    short = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=5)
    bucket.client.put_object_retention(
        Bucket=bucket.name, Key="arc/log/leaves/0", BypassGovernanceRetention=True,
        Retention={"Mode": "GOVERNANCE", "RetainUntilDate": short},
    )  # fmt: skip
    body = b"{}\n"
    stray = f"arc/log/superseded/stray-{hashlib.sha256(body).hexdigest()}.json"
    bucket.client.put_object(Bucket=bucket.name, Key=stray, Body=body)
    out = run("verify", "--archive", url, code=1)
    assert "lock_short" in out and "log/leaves/0" in out and "the log" in out
    assert "lock_missing" in out and stray in out

    # The next run extends the whole log (its cache of known dates lost: it asks).
    for cached in bucket.cache.rglob("untils.sqlite*"):
        cached.unlink()
    again = await crawl(sim.base_url, sim.key, url, *LOCK, signing_key_file=key_file)  # type: ignore[arg-type]
    assert again == 0
    need = newest_need(url)
    assert until(bucket, "arc/log/leaves/0") >= need and until(bucket, stray) >= need
    assert "verify (fast): ok" in run("verify", "--archive", url)

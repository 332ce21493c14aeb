"""Every offline command on an s3:// archive; an empty cache rebuilt; verify's lock checks."""

from __future__ import annotations

import shutil
from contextlib import redirect_stdout
from io import StringIO

import orjson
import pytest

from crawler.archive.store.location import parse_archive
from crawler.cli import main
from crawler.read.web.app import make_app
from crawler.simulator import Simulator
from tests.s3.conftest import Bucket
from tests.support import crawl

pytestmark = pytest.mark.timeout(240)


def run(*args: str, code: int = 0) -> str:
    out = StringIO()
    with redirect_stdout(out):
        assert main(list(args)) == code, out.getvalue()
    return out.getvalue()


async def test_every_command_reads_the_bucket_and_an_empty_cache_is_rebuilt(
    sim: Simulator, bucket: Bucket, capsys: pytest.CaptureFixture[str]
) -> None:
    url = bucket.url()
    lock = ("--object-lock", "governance", "--retain", "60s")
    assert await crawl(sim.base_url, sim.key, url, *lock) == 0  # type: ignore[arg-type]
    assert await crawl(sim.base_url, sim.key, url, *lock, "--incremental") == 0  # type: ignore[arg-type]
    shutil.rmtree(bucket.cache)  # another machine: nothing local at all
    capsys.readouterr()
    assert "complete" in run("status", "--archive", url)
    assert "rebuilding the local cache" in capsys.readouterr().err
    snaps = [orjson.loads(x) for x in run("snapshots", "--archive", url, "--json").splitlines()]
    assert [s["status"] for s in snaps] == ["complete", "complete"]
    run("diff", "--archive", url, snaps[0]["id"], snaps[1]["id"])
    assert "verify (fast): ok" in run("verify", "--archive", url)
    full = run("verify", "--archive", url, "--full")
    assert "verify (full): ok" in full and "blobs rehashed" in full
    run("reindex", "--archive", url, "--quiet")
    assert run("search", "--archive", url, "Description", "--json")
    app = make_app(parse_archive(url), verify_now=False)
    assert app is not None
    for cleanup in app.on_cleanup:
        await cleanup(app)

    # A policy longer than the objects' locks: each object is named, exit 1.
    strict = run(
        "verify", "--archive", url, "--object-lock", "governance", "--retain", "1d", code=1
    )
    assert "lock_short" in strict


async def test_verify_reports_objects_without_a_lock(sim: Simulator, bucket: Bucket) -> None:
    url = bucket.url()
    assert await crawl(sim.base_url, sim.key, url) == 0  # type: ignore[arg-type]
    assert "verify (fast): ok" in run("verify", "--archive", url)
    out = run("verify", "--archive", url, "--object-lock", "compliance", "--retain", "5s", code=1)
    assert "lock_missing" in out

"""Injected S3 faults (SlowDown, 500 after the write landed, resets): nothing lost, nothing twice."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.archive.store import s3_client
from crawler.cli import main
from crawler.simulator import Simulator
from tests.s3.conftest import Bucket
from tests.s3.faults import FaultPlan, FaultProxy
from tests.s3.test_s3_archive import export, same_run, snapshot_ids
from tests.support import crawl

pytestmark = pytest.mark.timeout(240)


async def test_faults_are_retried_or_settled_by_reading(
    sim: Simulator, bucket: Bucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(s3_client, "BACKOFF_BASE", 0.005)  # the schedule, not the waits, is tested
    plan = FaultPlan(every=4)
    proxy = FaultProxy(bucket.server.endpoint, plan)
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.endpoint)
        url = bucket.url()
        lock = ("--object-lock", "governance", "--retain", "60s")
        assert await crawl(sim.base_url, sim.key, url, *lock) == 0  # type: ignore[arg-type]
        assert await crawl(sim.base_url, sim.key, url, *lock, "--incremental") == 0  # type: ignore[arg-type]
    finally:
        proxy.close()
    assert plan.injected["slowdown"] > 10
    assert plan.injected["error_after"] > 5 and plan.injected["reset_after"] > 5
    monkeypatch.setenv("AWS_ENDPOINT_URL", bucket.server.endpoint)
    disk = tmp_path / "disk"
    assert await crawl(sim.base_url, sim.key, str(disk)) == 0  # type: ignore[arg-type]
    assert await crawl(sim.base_url, sim.key, str(disk), "--incremental") == 0  # type: ignore[arg-type]

    assert main(["verify", "--archive", bucket.url(), "--full"]) == 0
    versions = bucket.client.list_object_versions(Bucket=bucket.name, Prefix="arc/")
    keys = [v["Key"] for v in versions.get("Versions", []) + versions.get("DeleteMarkers", [])]
    assert len(keys) == len(set(keys)), "a write was sent blindly twice"
    s3_ids, disk_ids = snapshot_ids(bucket.url(), tmp_path), snapshot_ids(str(disk), tmp_path)
    names = {a: f"S{n}" for ids in (s3_ids, disk_ids) for n, a in enumerate(ids)}
    for n in (0, 1):
        s3 = export(bucket.url(), tmp_path / f"s{n}", "--snapshot", s3_ids[n], "--include-content")
        dk = export(str(disk), tmp_path / f"d{n}", "--snapshot", disk_ids[n], "--include-content")
        assert same_run(s3, names) == same_run(dk, names)

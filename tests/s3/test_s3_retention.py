"""retention plan and apply on an s3:// archive: deletes upstream as on disk, receipts in the bucket."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from crawler.archive import Archive
from crawler.archive.store.location import parse_archive
from crawler.read.verify import verify
from crawler.retention.bucket import open_retention_reader
from crawler.simulator import Simulator
from tests.retention.support import apply, plan
from tests.s3.conftest import Bucket
from tests.support import crawl

pytestmark = pytest.mark.timeout(180)


async def test_plan_and_apply_on_a_bucket(sim: Simulator, bucket: Bucket, tmp_path: Path) -> None:
    url = bucket.url()
    lock = ("--object-lock", "governance", "--retain", "60s")
    assert await crawl(sim.base_url, sim.key, url, *lock) == 0  # type: ignore[arg-type]
    plan_file = tmp_path / "plan.json"
    made = await plan(sim.base_url, sim.key, url, "--older-than", "1d", out=plan_file)  # type: ignore[arg-type]
    eligible = {i["id"] for i in made["items"]}
    assert eligible and sim.counters.deletes == {}
    assert await apply(sim.base_url, sim.key, sim.delete_key, url, plan_file) == 0  # type: ignore[arg-type]
    assert set(sim.counters.deletes) == eligible

    kinds = [k.rsplit("-", 2)[-2] for k in bucket.keys("arc/retention/")]
    assert kinds.count("receipt") == len(eligible) and "plan" in kinds and "intent" in kinds
    shutil.rmtree(bucket.cache)  # the receipts are the bucket's, not a machine's
    with Archive.open_for_reading(parse_archive(url)) as archive:
        with open_retention_reader(archive) as store:
            done = {r.item_id for r in store.receipts() if r.outcome == "deleted"}
        report = verify(archive, full=True)
    assert done == eligible
    assert report.ok, report.problems
    assert report.checked["receipts"] >= len(eligible)

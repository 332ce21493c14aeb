"""SIGKILL at any moment of an S3 run: the bucket verifies, a rerun completes, nothing overwritten."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from crawler.cli import main
from crawler.simulator import DatasetSpec
from tests.s3.conftest import Bucket
from tests.s3.test_s3_archive import export, same_run, snapshot_ids
from tests.support import TEST_KEY_ENV, threaded_simulator

pytestmark = pytest.mark.timeout(300)
SPEC = DatasetSpec(seed=43, projects=80, big_file_bytes=20_000_000, file_size_max=16_384)


def argv(base_url: str, archive: str) -> list[str]:
    return [sys.executable, "-m", "crawler", "archive", "--base-url", base_url, "--archive",
            archive, "--rate", "0", "--quiet", "--concurrency", "4",
            "--object-lock", "governance", "--retain", "120s"]  # fmt: skip


def test_kill_9_during_an_s3_run_then_rerun_completes(bucket: Bucket, tmp_path: Path) -> None:
    rng = random.Random(7)
    url = bucket.url()
    with threaded_simulator(SPEC) as ts:
        env = {**os.environ, TEST_KEY_ENV: ts.sim.key}
        killed = 0
        for _ in range(4):
            proc = subprocess.Popen(argv(ts.sim.base_url, url), env=env, stderr=subprocess.PIPE)
            time.sleep(rng.uniform(1.0, 3.0))  # past the checks, amid uploads
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                killed += 1
            proc.communicate(timeout=30)
        assert killed >= 2, "the runs ended before they could be killed"
        assert main(["verify", "--archive", url]) == 0  # a killed bucket is still sound
        done = subprocess.run(argv(ts.sim.base_url, url), env=env, capture_output=True, timeout=180)
        assert done.returncode == 0, done.stderr
        disk = tmp_path / "disk"
        plain = subprocess.run(
            [*argv(ts.sim.base_url, str(disk))[:-4]], env=env, capture_output=True, timeout=180
        )
        assert plain.returncode == 0, plain.stderr
    assert main(["verify", "--archive", url, "--full"]) == 0
    versions = bucket.client.list_object_versions(Bucket=bucket.name, Prefix="arc/")
    keys = [v["Key"] for v in versions.get("Versions", []) + versions.get("DeleteMarkers", [])]
    assert len(keys) == len(set(keys)), "an object was written twice"
    s3_ids, disk_ids = snapshot_ids(url, tmp_path), snapshot_ids(str(disk), tmp_path)
    names = {s3_ids[-1]: "S", disk_ids[-1]: "S"}
    s3 = export(url, tmp_path / "s3.ndjson", "--snapshot", s3_ids[-1])
    dk = export(str(disk), tmp_path / "d.ndjson", "--snapshot", disk_ids[-1])
    assert same_run(s3, names) == same_run(dk, names)

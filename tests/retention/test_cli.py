"""``crawler retention`` as a user runs it: subprocesses against the simulator.

The read key never deletes: without a separate delete key, with the read key
in its place, with a key lacking the delete scope, without ``--max-deletes``
or ``--yes``, apply exits 2 having deleted nothing. And SIGKILL at random
moments during apply, then a rerun: no item is deleted twice (the simulator
counts DELETE calls per id) and no receipt is missing.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from crawler.archive import Archive
from crawler.read.verify import verify
from crawler.retention.store import RetentionStore
from crawler.simulator import DatasetSpec
from crawler.simulator.auth import READ_SCOPES
from tests.support import TEST_KEY_ENV, ThreadedSimulator, crawl, threaded_simulator

DELETE_ENV = "ANTHROPIC_COMPLIANCE_DELETE_KEY"
SPEC = DatasetSpec.small(seed=11, projects=40)
NOT_A_DELETE_KEY = "sim-retention-second-read-key"


def run(
    read_key: str, delete_key: str | None, *args: str, wait: bool = True
) -> subprocess.Popen[str]:
    env = {**os.environ, TEST_KEY_ENV: read_key}
    env.pop("ANTHROPIC_COMPLIANCE_API_KEY", None)
    env.pop(DELETE_ENV, None)
    if delete_key is not None:
        env[DELETE_ENV] = delete_key
    proc = subprocess.Popen(
        [sys.executable, "-m", "crawler", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    if wait:
        proc.wait(timeout=120)
    return proc


def prepare(ts: ThreadedSimulator, tmp_path: Path) -> tuple[Path, Path, dict[str, object]]:
    archive, plan_file = tmp_path / "archive", tmp_path / "plan.json"
    assert asyncio.run(crawl(ts.sim.base_url, ts.sim.key, archive)) == 0
    proc = run(
        ts.sim.key, None, "retention", "plan", "--base-url", ts.sim.base_url,
        "--archive", str(archive), "--rate", "0", "--older-than", "1d", "--out", str(plan_file),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
    plan = orjson.loads(plan_file.read_bytes())
    assert len(plan["items"]) >= 10
    return archive, plan_file, plan


def apply_args(ts: ThreadedSimulator, archive: Path, plan_file: Path, *extra: str) -> list[str]:
    return [
        "retention", "apply", "--base-url", ts.sim.base_url, "--archive", str(archive),
        "--plan", str(plan_file), *extra,
    ]  # fmt: skip


def deletes(ts: ThreadedSimulator) -> dict[str, dict[int, int]]:
    return ts.call(lambda: {k: dict(v) for k, v in ts.sim.counters.deletes.items()})


@pytest.mark.slow
def test_apply_refuses_the_read_key_and_missing_safeguards(tmp_path: Path) -> None:
    with threaded_simulator(SPEC) as ts:
        archive, plan_file, _ = prepare(ts, tmp_path)
        read, delete = ts.sim.key, ts.sim.delete_key
        assert delete is not None and delete != read
        full = apply_args(ts, archive, plan_file, "--rate", "0", "--yes", "--max-deletes", "5")
        cases = {
            "no delete key": (None, full, DELETE_ENV),
            "the read key as delete key": (read, full, "read key"),
            "no --max-deletes": (delete, full[:-2], "--max-deletes"),
            "no --yes": (delete, [a for a in full if a != "--yes"], "--yes"),
        }
        for name, (key, args, said) in cases.items():
            proc = run(read, key, *args)
            err = proc.stderr.read() if proc.stderr else ""
            assert proc.returncode == 2, (name, err)
            assert said in err, (name, err)
            assert read not in err and delete not in err
            assert deletes(ts) == {}, name
        # A separate key that lacks the delete scope: the server refuses (403), exit 2.
        ts.call(lambda: ts.sim.add_key(NOT_A_DELETE_KEY, READ_SCOPES))
        proc = run(read, NOT_A_DELETE_KEY, *full)
        err = proc.stderr.read() if proc.stderr else ""
        assert proc.returncode == 2, err
        assert "delete:compliance_user_data" in err and NOT_A_DELETE_KEY not in err
        assert all(set(per) == {403} for per in deletes(ts).values()) and len(deletes(ts)) == 1
        with RetentionStore.open_reader(archive) as store:
            assert [r.outcome for r in store.receipts()] == ["refused"]  # recorded, not lost
            assert store.intents() == []


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.slow
def test_sigkill_during_apply_then_rerun_deletes_once_and_keeps_every_receipt(
    tmp_path: Path, seed: int
) -> None:
    rng = random.Random(seed)
    with threaded_simulator(SPEC) as ts:
        archive, plan_file, plan = prepare(ts, tmp_path)
        eligible = {i["id"] for i in plan["items"]}
        # 25 req/s: slow enough to kill between a DELETE and its receipt; the rerun need not be.
        args = apply_args(ts, archive, plan_file, "--rate", "25", "--yes", "--max-deletes", "100")
        kills = 0
        for _ in range(4):
            target = sum(sum(v.values()) for v in deletes(ts).values()) + rng.randint(1, 4)
            proc = run(ts.sim.key, ts.sim.delete_key, *args, wait=False)
            deadline = time.monotonic() + 60
            while proc.poll() is None and time.monotonic() < deadline:
                if sum(sum(v.values()) for v in deletes(ts).values()) >= target:
                    time.sleep(rng.uniform(0, 0.06))  # somewhere between DELETE and receipt
                    proc.send_signal(signal.SIGKILL)
                    kills += 1
                    break
                time.sleep(0.002)
            proc.wait(timeout=30)
        assert kills >= 2
        final = run(ts.sim.key, ts.sim.delete_key, *[("0" if a == "25" else a) for a in args])
        assert final.returncode == 0, final.stderr.read() if final.stderr else ""

        calls = deletes(ts)
        assert set(calls) == eligible
        assert {k: v for k, v in calls.items() if v != {200: 1}} == {}  # never twice
        with RetentionStore.open_reader(archive) as store:
            done = [r for r in store.receipts() if r.outcome == "deleted"]
            assert store.intents() == []
        assert sorted(r.item_id for r in done) == sorted(eligible)  # one each, none missing
        with Archive.open_for_reading(archive) as a:
            report = verify(a, full=True)
        assert report.ok, report.problems

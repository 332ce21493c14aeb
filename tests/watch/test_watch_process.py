"""crawler watch as a process: SIGKILL then restart resumes with no feed gap, SIGTERM
mid-cycle exits 0 with a consistent archive, a busy lock waits then exits 75."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from crawler.archive import Archive
from crawler.canonical import parse_instant
from crawler.cli import main
from crawler.errors import LockWaitError
from crawler.simulator import DatasetSpec
from tests.support import TEST_KEY_ENV, threaded_simulator
from tests.test_archive_run import SMALL
from tests.test_feed_incremental import exported
from tests.test_resume import kill, wait_until

SPEC = DatasetSpec(seed=44, projects=40, **SMALL)
SLOW = {"latency": (0.03, 0.03)}  # per detail request: a cycle long enough to interrupt


def watch_argv(base_url: str, archive: Path, *flags: str) -> list[str]:
    return [
        sys.executable, "-m", "crawler", "watch", "--base-url", base_url,
        "--archive", str(archive), "--rate", "0", "--concurrency", "2", "--every", "0.2s",
        *flags,
    ]  # fmt: skip


def start(base_url: str, key: str, archive: Path, *flags: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        watch_argv(base_url, archive, *flags),
        env={**os.environ, TEST_KEY_ENV: key},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def snapshots(archive: Path) -> list[tuple[Any, dict[str, Any]]]:
    with Archive.open_for_reading(archive) as arc:
        return [(s, arc.index.feed_state(s.id) or {}) for s in arc.index.list_snapshots()]


def verify(archive: Path) -> int:
    return main(["verify", "--archive", str(archive)])


def test_sigkill_then_restart_resumes_and_the_feed_has_no_gap(tmp_path: Path) -> None:
    arc = tmp_path / "a"
    with threaded_simulator(SPEC, feed_lag=0) as ts:
        ts.set_faults("projects.get", **SLOW)
        proc = start(ts.sim.base_url, ts.sim.key, arc)
        assert wait_until(lambda: ts.answered("projects.get") >= 8, proc, 30)
        assert kill(proc)  # mid full walk
        ts.call(lambda: ts.sim.mutate(seed=2, fraction=0.05, kinds=["replace", "rename"]))
        proc = start(ts.sim.base_url, ts.sim.key, arc, "--cycles", "3")
        _out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    snaps = snapshots(arc)
    assert [s.status for s, _f in snaps] == ["complete"] * 3
    first = snaps[0][0]
    assert [r["outcome"] for r in (first.stats or {})["runs"]] == ["killed", "complete"]
    assert [f.get("cycle", "full_walk") for _s, f in snaps] == ["full_walk", "changes", "changes"]
    # Each read starts at or before where its parent's ended: no instant unread.
    for (parent, pf), (_child, cf) in pairwise(snaps):
        start_at = parse_instant(cf["window"]["created_at_gte"])
        assert start_at <= parse_instant(pf["position"]["until"]), parent.id
    assert verify(arc) == 0


def test_sigterm_mid_cycle_exits_0_and_the_next_start_finishes_it(tmp_path: Path) -> None:
    arc = tmp_path / "a"
    with threaded_simulator(SPEC, feed_lag=0) as ts:
        ts.set_faults("projects.get", **SLOW)
        proc = start(ts.sim.base_url, ts.sim.key, arc)
        assert wait_until(lambda: ts.answered("projects.get") >= 8, proc, 30)
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert "stopping" in err
        (snap, _f), *_ = snapshots(arc)
        assert snap.status == "running"  # stopped mid-walk, resumable
        assert verify(arc) == 0
        proc = start(ts.sim.base_url, ts.sim.key, arc, "--cycles", "1")
        _out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    assert [s.status for s, _f in snapshots(arc)] == ["complete"]


def test_a_held_lock_is_waited_for_then_exit_75_and_a_killed_holder_never_blocks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    arc = tmp_path / "a"
    with threaded_simulator(SPEC, feed_lag=0) as ts:
        argv = ["--base-url", ts.sim.base_url, "--archive", str(arc), "--rate", "0"]
        monkeypatch.setenv(TEST_KEY_ENV, ts.sim.key)
        holder = Archive.open_for_writing(arc)
        try:
            assert main(["watch", *argv, "--lock-wait", "0.3s", "--cycles", "1"]) == 75
            assert main(["archive", *argv, "--quiet", "--lock-wait", "0.3s"]) == 75
        finally:
            holder.close()
        assert LockWaitError.exit_code == 75
        # A holder killed with SIGKILL leaves the lock file, never the lock.
        code = "from crawler.archive import Archive; import os, signal, sys; "
        code += f"Archive.open_for_writing({str(arc)!r}); os.kill(os.getpid(), signal.SIGKILL)"
        dead = subprocess.run([sys.executable, "-c", code], timeout=30)
        assert dead.returncode == -signal.SIGKILL
        assert (arc / "lock").exists()
        assert main(["watch", *argv, "--lock-wait", "0", "--cycles", "1"]) == 0


def test_sigkill_mid_changes_cycle_then_restart_finishes_the_delta_exactly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    arc, full = tmp_path / "a", tmp_path / "full"
    with threaded_simulator(SPEC, feed_lag=0) as ts:
        done = subprocess.run(watch_argv(ts.sim.base_url, arc, "--cycles", "1"),
                              env={**os.environ, TEST_KEY_ENV: ts.sim.key}, capture_output=True,
                              text=True, timeout=60)  # fmt: skip
        assert done.returncode == 0, done.stderr
        ts.call(lambda: ts.sim.mutate(seed=4, fraction=0.3, kinds=["replace", "rename"]))
        ts.set_faults("projects.get", **SLOW)
        before = ts.answered("projects.get")
        proc = start(ts.sim.base_url, ts.sim.key, arc)
        assert wait_until(lambda: ts.answered("projects.get") >= before + 4, proc, 30)
        assert kill(proc)  # mid changes cycle: its delta seeded, some projects fetched
        (_s, running), *_ = [(s, f) for s, f in snapshots(arc) if s.status == "running"]
        assert running.get("cycle") == "changes"
        ts.set_faults()
        monkeypatch.setenv(TEST_KEY_ENV, ts.sim.key)
        proc = start(ts.sim.base_url, ts.sim.key, arc, "--cycles", "1")
        _out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        assert main(["archive", "--base-url", ts.sim.base_url, "--archive", str(full),
                     "--rate", "0", "--quiet"]) == 0  # fmt: skip
    snaps = snapshots(arc)
    assert [s.status for s, _f in snaps] == ["complete", "complete"]
    resumed = snaps[1][0]
    assert [r["outcome"] for r in (resumed.stats or {})["runs"]] == ["killed", "complete"]
    a, b = exported(arc), exported(full)
    assert set(a) == set(b) and all(a[p] == b[p] for p in b)
    assert verify(arc) == 0

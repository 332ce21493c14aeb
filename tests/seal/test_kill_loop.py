"""The kill loop: SIGKILL between a finished snapshot and its leaf, again and again.

The crawler runs as a subprocess whose ``Sealer.sync`` kills the process with
SIGKILL at the exact moment after the snapshot's manifest is durable and before
its leaf is written. Each time the archive still verifies (the missing leaf is a
note, not a problem), and the next writer logs what is missing, in order, before
anything new: never a gap.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from crawler.archive import Archive
from crawler.archive.log import Log
from crawler.simulator import ALL_SCOPES, DatasetSpec
from tests.retention.support import hold
from tests.seal.support import check, keys_init
from tests.support import TEST_KEY_ENV, threaded_simulator

KEY = "seal-kill-loop-key-0000"
SPEC = DatasetSpec(seed=5, projects=8, big_document_bytes=5_000, big_file_bytes=20_000)

# Run as the child: the crawl, with a SIGKILL instead of the sync after the snapshot.
CHILD = """
import os, signal, sys
from crawler.seal import sealer
real = sealer.Sealer.sync
calls = []
def sync(self, *args, **kwargs):
    calls.append(1)
    if len(calls) == 2:  # 1: the catch-up as the run starts; 2: the new snapshot's leaf
        os.kill(os.getpid(), signal.SIGKILL)
    return real(self, *args, **kwargs)
sealer.Sealer.sync = sync
from crawler.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _crawl(base_url: str, archive: Path, key_file: Path, *, killed: bool) -> int:
    argv = ["archive", "--base-url", base_url, "--archive", str(archive), "--rate", "0", "--quiet"]
    code = ["-c", CHILD] if killed else ["-m", "crawler"]
    env = {**os.environ, TEST_KEY_ENV: KEY, "CRAWLER_SIGNING_KEY_FILE": str(key_file)}
    done = subprocess.run(
        [sys.executable, *code, *argv], env=env, capture_output=True, text=True, timeout=120
    )
    return done.returncode


def _finished(archive: Path) -> list[str]:
    with Archive.open_for_reading(archive) as arc:
        rows = [s for s in arc.index.list_snapshots() if s.manifest_sha256]
    return [s.id for s in sorted(rows, key=lambda s: s.finished_at or "")]


def test_sigkill_between_snapshot_and_leaf_leaves_no_gap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive, key_file = tmp_path / "a", tmp_path / "signing.pem"
    with threaded_simulator(SPEC, keys={KEY: ALL_SCOPES}) as ts:
        base = ts.sim.base_url
        assert _crawl(base, archive, key_file, killed=False) == 0  # unsealed, then sealed:
        keys_init(archive, key_file)
        for round_ in range(3):
            assert _crawl(base, archive, key_file, killed=True) == -9
            log = Log.open(archive)
            assert log is not None
            finished = _finished(archive)
            # The killed run's snapshot is finished but not logged; all before it are.
            assert [e.id for e, _ in log.events] == finished[:-1], round_
            report = check(archive)
            assert report.ok, report.problems
            assert any("not logged yet" in n for n in report.notes)
        # Another writer (a hold, here) logs what is missing first, in order, then itself.
        monkeypatch.setenv("CRAWLER_SIGNING_KEY_FILE", str(key_file))
        assert hold(archive, "add", "--matter", "M", "--project", "p") == 0
    log = Log.open(archive)
    assert log is not None
    assert [e.id for e, _ in log.events if e.type == "snapshot"] == _finished(archive)
    assert [e.type for e, _ in log.events][-1] == "hold"
    assert log.checkpoint_sizes()[-1] == log.size == 5
    report = check(archive)
    assert report.ok and not any("not logged" in n for n in report.notes)

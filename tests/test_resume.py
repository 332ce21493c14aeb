"""Issue #4: resume after ``kill -9``, and a clean stop on SIGINT.

The crawler runs as a subprocess (as it would in production) against a
simulator that runs in this process, in a background thread with its own event
loop, so that its request counters and per-URL attempt log can be read and its
faults changed between runs.
"""

from __future__ import annotations

import os
import random
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from crawler.archive import Archive, BlobRef
from crawler.crawl import STOP_GRACE_SECONDS
from crawler.simulator import DatasetSpec
from tests.support import TEST_KEY_ENV, threaded_simulator
from tests.test_archive_run import check_archive_matches
from tests.test_incremental import content

T = TypeVar("T")
CONCURRENCY = 4
SPEC = DatasetSpec(
    seed=41,
    projects=250,
    big_file_bytes=3_000_000,
    file_size_max=16_384,
    big_document_bytes=50_000,
)


def archive_argv(base_url: str, archive: Path, *flags: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "crawler",
        "archive",
        "--base-url",
        base_url,
        "--archive",
        str(archive),
        "--rate",
        "0",
        "--quiet",
        "--concurrency",
        str(CONCURRENCY),
        *flags,
    ]


def start_crawler(base_url: str, key: str, archive: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        archive_argv(base_url, archive),
        env={**os.environ, TEST_KEY_ENV: key},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_crawler(base_url: str, key: str, archive: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        archive_argv(base_url, archive),
        env={**os.environ, TEST_KEY_ENV: key},
        capture_output=True,
        text=True,
        timeout=60,
    )


def crawler_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "crawler", *args], capture_output=True, text=True, timeout=60
    )


def wait_until(check: Callable[[], bool], proc: subprocess.Popen[str], timeout: float) -> bool:
    """Poll ``check`` until it holds; False if the crawler exited first or time ran out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.005)
    return False


def kill(proc: subprocess.Popen[str]) -> bool:
    """SIGKILL; True if the crawler was still running (the kill interrupted it)."""
    alive = proc.poll() is None
    if alive:
        proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    return alive and proc.returncode == -signal.SIGKILL


def project_cost(dataset: Any, project_id: str) -> int:
    """Requests one project needs on its own: detail, attachment and collaborator pages,
    and every document and file body (none shared with an earlier project)."""
    truth = dataset.project(project_id)
    if truth.gone:
        return 1
    cost = 1 + dataset.collaborator_pages(project_id)
    if truth.attachments:
        cost += dataset.attachment_pages(project_id)
    return cost + len(truth.attachments)


def snapshot_state(archive: Path) -> tuple[dict[str, dict[str, Any]], set[tuple[str, str]]]:
    """The complete snapshot's project contents, and the (kind, md5) of its body blobs."""
    with Archive.open_for_reading(archive) as a:
        snap = a.require_snapshot()
        assert snap.status == "complete"
        records = {
            row.project_id: a.read_record(row.record)
            for row in a.index.projects(snap.id)
            if row.record is not None
        }
        contents = {pid: content(a, r) for pid, r in records.items()}
        bodies = {
            ("text", BlobRef.from_json(d["text"]).md5)
            for r in records.values()
            for d in r.get("documents", [])
        }
        bodies |= {("file", f["blob"]["md5"]) for r in records.values() for f in r.get("files", [])}
        # (By md5 alone: an empty document text and an empty file are one blob, one kind.)
        stored = {ref.md5 for ref, kind, _ in a.index.iter_blobs() if kind in ("file", "text")}
        assert {md5 for _, md5 in bodies} >= stored, "no stray body blob is left behind"
        return contents, bodies


LIST_URL = "GET /v1/compliance/apps/projects?"
DETAIL_URL = "GET /v1/compliance/apps/projects/"


def list_requests(attempts: dict[str, int]) -> int:
    return sum(n for url, n in attempts.items() if url.startswith(LIST_URL))


def details_requested(attempts: dict[str, int]) -> set[str]:
    """Projects whose detail was asked for: the first request of every project's fetch."""
    out = set()
    for url in attempts:
        if url.startswith(DETAIL_URL) and url.endswith("?"):
            rest = url[len(DETAIL_URL) : -1]
            if "/" not in rest:
                out.add(rest)
    return out


def unfinished_projects(archive: Path) -> tuple[set[str], dict[str, int]]:
    """After a kill: the running snapshot's projects still ``listed``, and its state counts."""
    if not (archive / "index.sqlite").exists():
        return set(), {}
    with Archive.open_for_reading(archive) as a:
        running = [s for s in a.index.list_snapshots() if s.status == "running"]
        if not running:
            return set(), {}
        (snap,) = running
        listed = {row.project_id for row in a.index.projects(snap.id, states=("listed",))}
        return listed, a.index.count_projects(snap.id)


def archived_md5s(archive: Path) -> set[str]:
    if not (archive / "index.sqlite").exists():
        return set()
    with Archive.open_for_reading(archive) as a:
        return {ref.md5 for ref, _, _ in a.index.iter_blobs()}


@pytest.mark.slow
def test_kill_9_at_random_moments_then_resume_equals_an_uninterrupted_run(tmp_path: Path) -> None:
    """SIGKILL during list walking, mid-download of the big file, and at random moments
    (index writes happen all the time); after each kill ``verify`` accepts the archive and
    the last, uninterrupted rerun completes a snapshot identical to a fresh crawl's.

    The bound on requests: a kill wastes at most
      * 2 list pages: the one in flight (or fetched but not yet recorded), plus one more
        because the resumed walk restarts at the ``created_at`` watermark and so re-reads
        the items tied with it on a page boundary of its own, and
      * every request of the projects in flight at the kill: their records were not
        written, so they are fetched again (documents already stored for the snapshot and
        file bodies whose listed md5 is already archived are not). At most ``--concurrency``
        projects are in flight, each costing at most ``project_cost``.
    So across all the runs: ``total <= minimum + sum over kills of (2 + cost of the projects
    in flight)``, and that is ``<= minimum + kills * (2 + concurrency * max project cost)``.
    """
    rng = random.Random(20260404)
    resumed, fresh = tmp_path / "resumed", tmp_path / "fresh"
    with threaded_simulator(SPEC) as ts:
        sim, dataset = ts.sim, ts.sim.dataset
        url, key = sim.base_url, sim.key
        minimum = sum(dataset.minimum_requests(None, True, False).values())
        allowance = 0  # the bound, summed kill by kill
        kills: list[str] = []
        in_flight_per_kill: list[int] = []

        def after_kill(what: str, proc: subprocess.Popen[str], before: dict[str, int]) -> None:
            nonlocal allowance
            assert kill(proc), f"the crawler finished before the kill {what!r}"
            kills.append(what)
            started = details_requested(ts.attempts()) - details_requested(before)
            listed, counts = unfinished_projects(resumed)
            in_flight = started & listed
            assert len(in_flight) <= CONCURRENCY, (what, in_flight)
            in_flight_per_kill.append(len(in_flight))
            allowance += 2 + sum(project_cost(dataset, pid) for pid in in_flight)
            check = crawler_cli(
                "verify", "--archive", str(resumed), *(["--full"] * (len(kills) % 2))
            )
            assert check.returncode == 0, (what, counts, check.stdout, check.stderr)

        # 1. During list walking: each list page takes 0.3 s; kill while the second is in flight.
        ts.set_faults("projects.list", latency=(0.3, 0.3))
        before = ts.attempts()
        proc = start_crawler(url, key, resumed)
        assert wait_until(
            lambda: list_requests(ts.attempts()) >= list_requests(before) + 2, proc, 20
        )
        time.sleep(rng.uniform(0.02, 0.25))
        after_kill("list walking", proc, before)
        ts.set_faults()

        # 2. Mid-download of the big file: 46 chunks of 64 KiB, 0.03 s apart.
        big = dataset.cases.big_file
        assert big is not None
        ts.set_faults("files.content", chunk_delay=0.03)
        before = ts.attempts()
        proc = start_crawler(url, key, resumed)
        assert wait_until(
            lambda: any(f"/files/{big}/content" in u for u in ts.attempts()), proc, 30
        )
        time.sleep(rng.uniform(0.1, 1.0))
        after_kill("big file download", proc, before)
        assert dataset.file(big).md5 not in archived_md5s(resumed), "the kill was mid-stream"
        ts.set_faults()

        # 3-5. At random moments: the index is written for every page, document and project.
        # A moment is a random number of requests into the run, not a random time: a
        # time can outlast what is left to do on a fast machine (then nothing is killed),
        # a request count cannot (three runs of at most 120 leave most of the ~650 left).
        ts.set_faults(None, latency=(0.002, 0.006))
        for i in range(3):
            before = ts.attempts()
            proc = start_crawler(url, key, resumed)
            at = sum(before.values()) + rng.randint(10, 120)
            assert wait_until(lambda n=at: sum(ts.attempts().values()) >= n, proc, 20)
            after_kill(f"random {i + 1}", proc, before)
        ts.set_faults()

        final = run_crawler(url, key, resumed)
        assert final.returncode == 0, final.stderr
        check = crawler_cli("verify", "--archive", str(resumed), "--full")
        assert check.returncode == 0, check.stdout
        interrupted_total = ts.call(lambda: sim.counters.total)
        list_total = list_requests(ts.attempts())

        ts.call(sim.counters.reset)
        full = run_crawler(url, key, fresh)
        assert full.returncode == 0, full.stderr
        uninterrupted_total = ts.call(lambda: sim.counters.total)

    assert uninterrupted_total == minimum
    worst = max(project_cost(dataset, pid) for pid in dataset.projects)
    print(
        f"\nminimum {minimum}, uninterrupted {uninterrupted_total}, {len(kills)} kills "
        f"({in_flight_per_kill} projects in flight) then a rerun: {interrupted_total} requests "
        f"({list_total} list pages of {dataset.list_pages(None, 100)}), "
        f"bound {minimum + allowance} (worst case {minimum + len(kills) * (2 + CONCURRENCY * worst)})"
    )
    assert minimum <= interrupted_total <= minimum + allowance
    assert list_total <= dataset.list_pages(None, 100) + 2 * len(kills)
    assert allowance <= len(kills) * (2 + CONCURRENCY * worst)

    with Archive.open_for_reading(resumed) as a:
        manifest = a.read_manifest(a.require_snapshot().id)
    # Every run is on record; a killed run's counts lack at most its last second.
    assert [r["outcome"] for r in manifest["runs"]] == ["killed"] * len(kills) + ["complete"]
    assert manifest["requests"]["total"] <= interrupted_total
    print(f"manifest counts {manifest['requests']['total']} of them")
    assert check_archive_matches(resumed, dataset) == SPEC.projects
    resumed_contents, resumed_bodies = snapshot_state(resumed)
    fresh_contents, fresh_bodies = snapshot_state(fresh)
    assert resumed_contents == fresh_contents
    assert resumed_bodies == fresh_bodies


def resume_argv(stderr: str) -> list[str]:
    """The command the crawler told us to resume with, runnable here."""
    line = next(ln for ln in stderr.splitlines() if "Resume with: " in ln)
    words = shlex.split(line.split("Resume with: ", 1)[1])
    assert words[0] == "crawler"
    return [sys.executable, "-m", "crawler", *words[1:]]


@pytest.mark.slow
def test_sigint_stops_cleanly_and_names_the_command_that_resumes(tmp_path: Path) -> None:
    """First SIGINT: in-flight projects finish, exit 130, and stderr names the exact command;
    the archive verifies, ``status`` shows the snapshot running, and that command completes it.
    A clean stop wastes at most the list page in flight and the one re-read at the watermark."""
    spec = DatasetSpec(seed=42, projects=60, big_file_bytes=200_000, file_size_max=16_384)
    archive = tmp_path / "a"
    with threaded_simulator(spec) as ts:
        sim, dataset = ts.sim, ts.sim.dataset
        ts.set_faults(None, latency=(0.01, 0.03))
        proc = start_crawler(sim.base_url, sim.key, archive)
        assert wait_until(lambda: len(details_requested(ts.attempts())) >= 12, proc, 20)
        stopped_at = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
        assert proc.returncode == 130, stderr
        # In-flight projects take well under a second: the stop does not sit out its grace.
        assert time.monotonic() - stopped_at < STOP_GRACE_SECONDS / 2
        argv = archive_argv(sim.base_url, archive)
        assert f"Resume with: crawler {shlex.join(argv[3:])}" in stderr
        assert "Traceback" not in stderr

        listed, counts = unfinished_projects(archive)
        assert listed and counts.get("done", 0) >= 8, counts  # stopped mid-run, work kept
        assert crawler_cli("verify", "--archive", str(archive)).returncode == 0
        status = crawler_cli("status", "--archive", str(archive))
        assert status.returncode == 0 and "running" in status.stdout, status.stdout
        assert "to resume" in status.stdout

        ts.set_faults()
        again = subprocess.run(
            resume_argv(stderr),
            env={**os.environ, TEST_KEY_ENV: sim.key},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert again.returncode == 0, again.stderr
        total = ts.call(lambda: sim.counters.total)
    assert check_archive_matches(archive, dataset) == spec.projects
    minimum = sum(dataset.minimum_requests(None, True, False).values())
    print(f"\nSIGINT then resume: {total} requests, minimum {minimum}")
    assert minimum <= total <= minimum + 2
    with Archive.open_for_reading(archive) as a:
        manifest = a.read_manifest(a.require_snapshot().id)
    assert [r["outcome"] for r in manifest["runs"]] == ["interrupted", "complete"]


@pytest.mark.slow
def test_second_sigint_stops_at_once_and_the_archive_still_resumes(tmp_path: Path) -> None:
    """Second SIGINT cancels the in-flight work (here: a slow body) instead of waiting."""
    spec = DatasetSpec(seed=43, projects=30, big_file_bytes=3_000_000, file_size_max=4096)
    archive = tmp_path / "a"
    with threaded_simulator(spec) as ts:
        sim, dataset = ts.sim, ts.sim.dataset
        big = dataset.cases.big_file
        ts.set_faults("files.content", chunk_delay=0.2)  # the big file would take ~9 s
        proc = start_crawler(sim.base_url, sim.key, archive)
        assert wait_until(
            lambda: any(f"/files/{big}/content" in u for u in ts.attempts()), proc, 20
        )
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        time.sleep(0.3)
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
        assert time.monotonic() - started < 3
        assert proc.returncode == 130, stderr
        assert "Resume with: crawler archive" in stderr
        assert crawler_cli("verify", "--archive", str(archive), "--full").returncode == 0
        ts.set_faults()
        assert run_crawler(sim.base_url, sim.key, archive).returncode == 0
    assert check_archive_matches(archive, dataset) == spec.projects

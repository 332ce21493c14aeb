"""Issue #7's fault matrix: one row per way the API can misbehave, over HTTP.

Every row crawls a small simulated organisation with one fault switched on and
checks three things:

1. the outcome: either retried and complete (exit 0), or the item recorded as a
   failure with a clear reason and its request-id (exit 1, or a list-walk error);
2. ``verify --full`` passes on the archive as the run left it;
3. a rerun with the same filters (the fault over) completes the snapshot, and the
   archive then equals the simulator's ground truth.

The random-rate versions of 5xx, resets, truncation, malformed JSON and bad
Content-MD5 live in ``test_archive_run.py``; the rows here aim each fault at one
endpoint, deterministically, and add the verify and rerun checks.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from crawler.archive import Archive, BlobRef
from crawler.errors import FatalError
from crawler.read.verify import verify
from crawler.simulator import DatasetSpec, FaultPlan, Simulator, SimulatorConfig, running_simulator
from crawler.simulator.model import LISTED_NULL
from tests.support import crawl
from tests.test_archive_run import check_archive_matches

FAST = {"backoff_base": 0.01, "backoff_cap": 0.05}
SPEC = DatasetSpec(
    seed=21, projects=12, big_document_bytes=20_000, big_file_bytes=200_000, file_size_max=16_384
)
# Short and empty pages everywhere: every walk has several pages and page tokens.
SHORT_PAGES = DatasetSpec(
    seed=22,
    projects=12,
    big_document_bytes=20_000,
    big_file_bytes=200_000,
    file_size_max=16_384,
    short_page_rate=0.6,
    empty_page_rate=0.3,
)

# The classic MD5 collision (Wang and Yu, 2004): two different 128-byte blocks, one md5.
COLLISION_A = bytes.fromhex(
    "d131dd02c5e6eec4693d9a0698aff95c2fcab58712467eab4004583eb8fb7f89"
    "55ad340609f4b30283e488832571415a085125e8f7cdc99fd91dbdf280373c5b"
    "d8823e3156348f5bae6dacd436c919c6dd53e2b487da03fd02396306d248cda0"
    "e99f33420f577ee8ce54b67080a80d1ec69821bcb6a8839396f9652b6ff72a70"
)
COLLISION_B = bytes.fromhex(
    "d131dd02c5e6eec4693d9a0698aff95c2fcab50712467eab4004583eb8fb7f89"
    "55ad340609f4b30283e4888325f1415a085125e8f7cdc99fd91dbd7280373c5b"
    "d8823e3156348f5bae6dacd436c919c6dd53e23487da03fd02396306d248cda0"
    "e99f33420f577ee8ce54b67080280d1ec69821bcb6a8839396f965ab6ff72a70"
)


@dataclass
class Row:
    """One fault: how to switch it on, what the first run must end with, how it ends."""

    faults: dict[str, dict[str, Any]] = field(default_factory=dict)  # endpoint -> EndpointFaults
    max_faults_per_url: int | None = 1
    spec: DatasetSpec = SPEC
    flags: tuple[str, ...] = ()
    overrides: dict[str, Any] = field(default_factory=dict)
    exit_code: int = 0  # of the first run
    reason: str | None = None  # every recorded failure's reason holds this
    failure_status: int | None = None
    list_walk_error: bool = False  # the first run ends with a ListWalkError
    min_seconds: float = 0.0  # the first run honoured a retry-after at least this long
    setup: Callable[[Simulator], Any] | None = None
    between: Callable[[Simulator, Any], None] | None = None  # after run 1, before the rerun
    check: Callable[[Path, Simulator, Any], None] | None = None  # after run 1


def _pick_document(sim: Simulator) -> str:
    return sorted(sim.dataset.documents)[0]


def _pick_file(sim: Simulator) -> str:
    return sorted(sim.dataset.files)[0]


def _gone_document(sim: Simulator) -> str:
    doc_id = _pick_document(sim)
    sim.faults.gone_ids.add(doc_id)
    return doc_id


def _gone_file(sim: Simulator) -> str:
    file_id = _pick_file(sim)
    sim.faults.gone_ids.add(file_id)
    return file_id


def _delete_document(sim: Simulator, doc_id: str) -> None:
    sim.dataset.delete_document(doc_id)


def _delete_file(sim: Simulator, file_id: str) -> None:
    for p in sim.dataset.projects.values():
        if ("file", file_id) in p.attachments:
            p.attachments.remove(("file", file_id))
    sim.dataset.files.pop(file_id)


def _gone_project(sim: Simulator) -> str:
    pid = sorted(sim.dataset.projects)[3]
    sim.dataset.projects[pid].gone_on_detail = True
    return pid


def _check_gone_project(archive_dir: Path, sim: Simulator, pid: str) -> None:
    with Archive.open_for_reading(archive_dir) as archive:
        snap = archive.require_snapshot()
        row = archive.index.get_project(snap.id, pid)
        assert row is not None and row.state == "gone"


def _collision(sim: Simulator) -> tuple[str, str]:
    """Two files, in two projects, served the two halves of a real md5 collision."""
    ids: list[str] = []
    for pid in sorted(sim.dataset.projects):
        p = sim.dataset.projects[pid]
        fids = [i for kind, i in p.attachments if kind == "file" and i not in ids]
        if fids and not p.gone_on_detail:
            ids.append(fids[0])
        if len(ids) == 2:
            break
    for file_id, body in zip(ids, (COLLISION_A, COLLISION_B), strict=True):
        rec = sim.dataset.files[file_id]
        rec.listed = LISTED_NULL  # no listed md5: nothing to skip on, both are downloaded
        rec.size = len(body)
        sim.faults.file_bodies[file_id] = body
    return ids[0], ids[1]


def _check_collision(archive_dir: Path, sim: Simulator, ids: tuple[str, str]) -> None:
    md5 = hashlib.md5(COLLISION_A).hexdigest()
    shas = {hashlib.sha256(b).hexdigest(): b for b in (COLLISION_A, COLLISION_B)}
    with Archive.open_for_reading(archive_dir) as archive:
        snap = archive.require_snapshot()
        assert snap.status == "complete"
        manifest = archive.read_manifest(snap.id)
        reported = [f for f in manifest["failures"] if f["kind"] == "md5_collision"]
        assert len(reported) == 1 and reported[0]["item_id"] in ids, manifest["failures"]
        assert "sha256" in reported[0]["reason"]
        # Both bodies kept, told apart by sha256, each readable as itself.
        stored = {ref.sha256 for ref, _ in archive.index.blobs_with_md5(md5)}
        assert stored == set(shas)
        seen = set()
        for row in archive.index.projects(snap.id):
            if row.record is None:
                continue
            for f in archive.read_record(row.record)["files"]:
                if f["id"] in ids:
                    ref = BlobRef.from_json(f["blob"])
                    assert ref.md5 == md5 and archive.blobs.read(ref) == shas[ref.sha256]
                    seen.add(ref.sha256)
        assert seen == set(shas)


ROWS: dict[str, Row] = {
    # -- 429 storms -------------------------------------------------------------------------
    "429-no-retry-after": Row(
        faults={"projects.get": {"fail_first": 2, "error_statuses": (429,)}},
    ),
    "429-retry-after-seconds": Row(
        faults={"projects.list": {"fail_first": 1, "error_statuses": (429,), "retry_after": 1}},
        min_seconds=1.0,
    ),
    "429-retry-after-http-date": Row(
        faults={
            "projects.list": {
                "fail_first": 1,
                "error_statuses": (429,),
                "retry_after": 2,
                "retry_after_form": "http-date",
            }
        },
        min_seconds=0.9,  # an HTTP-date has whole seconds: 2 s ahead is 1-2 s of waiting
    ),
    # -- server errors ----------------------------------------------------------------------
    "500": Row(faults={"projects.list": {"fail_first": 2, "error_statuses": (500,)}}),
    "502": Row(faults={"projects.get": {"fail_first": 2, "error_statuses": (502,)}}),
    "503": Row(faults={"attachments": {"fail_first": 2, "error_statuses": (503,)}}),
    "504": Row(faults={"documents.get": {"fail_first": 2, "error_statuses": (504,)}}),
    "529": Row(faults={"files.content": {"fail_first": 2, "error_statuses": (529,)}}),
    "x-should-retry-true-on-500": Row(
        faults={"collaborators": {"fail_first": 1, "error_statuses": (500,), "should_retry": True}}
    ),
    "x-should-retry-false-on-503": Row(
        faults={
            "documents.get": {"fail_first": 1, "error_statuses": (503,), "should_retry": False}
        },
        exit_code=1,
        reason="x-should-retry: false",
        failure_status=503,
    ),
    "5xx-storm-past-the-retry-budget": Row(
        faults={"files.content": {"fail_first": 50, "error_statuses": (503,)}},
        overrides={"max_attempts": 3},
        exit_code=1,
        reason="gave up after 3 attempts",
        failure_status=503,
    ),
    # -- transport --------------------------------------------------------------------------
    "connection-resets": Row(
        faults={"files.content": {"reset_rate": 1.0}, "attachments": {"reset_rate": 1.0}}
    ),
    "read-timeouts": Row(
        faults={"projects.get": {"stall_rate": 1.0, "stall_seconds": 1.0}},
        overrides={"read_timeout": 0.3},
    ),
    "read-timeouts-past-the-retry-budget": Row(
        faults={"projects.get": {"stall_rate": 1.0, "stall_seconds": 0.5}},
        max_faults_per_url=None,
        overrides={"read_timeout": 0.2, "max_attempts": 2},
        exit_code=1,
        reason="timed out",
    ),
    "truncated-bodies": Row(
        faults={"files.content": {"truncate_rate": 1.0}, "collaborators": {"truncate_rate": 1.0}}
    ),
    # -- bodies -----------------------------------------------------------------------------
    "malformed-json": Row(
        faults={"projects.list": {"malformed_rate": 1.0}, "documents.get": {"malformed_rate": 1.0}}
    ),
    "file-body-vs-content-md5": Row(
        faults={"files.content": {"bad_content_md5_rate": 1.0, "corrupt_body_rate": 1.0}},
        max_faults_per_url=2,
    ),
    "file-body-vs-content-md5-always": Row(
        faults={"files.content": {"bad_content_md5_rate": 1.0}},
        max_faults_per_url=None,
        overrides={"max_attempts": 2},
        exit_code=1,
        reason="disagrees with Content-MD5",
    ),
    "document-vs-metadata-md5-once": Row(
        faults={"documents.metadata": {"bad_content_md5_rate": 1.0}},
        flags=("--document-metadata",),
    ),
    "document-vs-metadata-md5-always": Row(
        faults={"documents.metadata": {"bad_content_md5_rate": 1.0}},
        max_faults_per_url=None,
        flags=("--document-metadata",),
        exit_code=1,
        reason="disagrees with its metadata md5",
    ),
    # -- pagination -------------------------------------------------------------------------
    "short-and-empty-pages": Row(spec=SHORT_PAGES),
    "has-more-without-next-page-once": Row(
        spec=SHORT_PAGES,
        faults={
            "projects.list": {"dangling_page_rate": 1.0},
            "attachments": {"dangling_page_rate": 1.0},
        },
    ),
    "has-more-without-next-page-always": Row(
        spec=SHORT_PAGES,
        faults={"collaborators": {"dangling_page_rate": 1.0}},
        max_faults_per_url=None,
        overrides={"max_attempts": 2},
        exit_code=1,
        reason="'has_more' is true but 'next_page' is null",
    ),
    "expired-token-in-project-list": Row(
        spec=SHORT_PAGES,
        faults={"projects.list": {"expire_token_rate": 1.0}},
        list_walk_error=True,
    ),
    "expired-token-in-attachments": Row(
        spec=SHORT_PAGES,
        faults={"attachments": {"expire_token_rate": 1.0}},
        exit_code=1,
        reason="HTTP 400",
        failure_status=400,
    ),
    # -- deletions between steps ------------------------------------------------------------
    "project-deleted-between-list-and-detail": Row(setup=_gone_project, check=_check_gone_project),
    "document-deleted-between-list-and-fetch": Row(
        setup=_gone_document,
        between=_delete_document,
        exit_code=1,
        reason="not found",
        failure_status=404,
    ),
    "file-deleted-between-list-and-fetch": Row(
        setup=_gone_file,
        between=_delete_file,
        exit_code=1,
        reason="not found",
        failure_status=404,
    ),
    # -- md5 collision ----------------------------------------------------------------------
    "md5-collision": Row(setup=_collision, check=_check_collision),
}


async def _run(sim: Simulator, archive: Path, row: Row) -> tuple[int, str]:
    try:
        code = await crawl(sim.base_url, sim.key, archive, *row.flags, **{**FAST, **row.overrides})
    except FatalError as exc:  # what `crawler` prints and exits with
        return exc.exit_code, str(exc)
    return code, ""


def _verify_ok(archive_dir: Path) -> None:
    with Archive.open_for_reading(archive_dir) as archive:
        report = verify(archive, full=True)
    assert report.ok, [str(p) for p in report.problems]


def _failures(archive_dir: Path) -> tuple[str, list[dict[str, Any]]]:
    with Archive.open_for_reading(archive_dir) as archive:
        snap = archive.index.list_snapshots()[-1]  # finished or not
        return snap.status, archive.index.failures(snap.id)


@pytest.mark.parametrize("name", list(ROWS))
async def test_fault_matrix(tmp_path: Path, name: str) -> None:
    row = ROWS[name]
    plan = FaultPlan(seed=7, max_faults_per_url=row.max_faults_per_url)
    for endpoint, changes in row.faults.items():
        plan.set(endpoint, **changes)
    archive = tmp_path / "a"
    async with running_simulator(SimulatorConfig(dataset=row.spec, rate=None, faults=plan)) as sim:
        token = row.setup(sim) if row.setup else None
        started = time.monotonic()
        code, message = await _run(sim, archive, row)
        elapsed = time.monotonic() - started
        if row.faults:
            assert sum(sim.state.decider.injected.values()) > 0, "no fault was injected"

        # 1. the outcome
        if row.list_walk_error:
            assert code == 1 and "listing projects failed" in message, message
        else:
            assert (code, message) == (row.exit_code, "")
        assert elapsed >= row.min_seconds
        status, failures = _failures(archive)
        if row.exit_code == 0 and not row.list_walk_error:
            assert status == "complete"
            assert all(f["kind"] == "md5_collision" for f in failures), failures
        elif not row.list_walk_error:
            assert status == "partial" and failures
            for f in failures:
                assert row.reason is not None and row.reason in f["reason"], f
                if row.failure_status is not None:
                    assert f["status"] == row.failure_status and f["request_id"], f

        if row.check:
            row.check(archive, sim, token)

        # 2. the archive passes verify as the run left it
        _verify_ok(archive)

        # 3. a rerun, the fault over, completes it
        plan.clear()
        sim.reset_faults()
        if row.between:
            row.between(sim, token)
        assert (await _run(sim, archive, row)) == (0, "")
        _verify_ok(archive)
        check_archive_matches(archive, sim.dataset)

"""``crawler archive`` against the simulator over HTTP: complete, faithful, minimal."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import orjson
import pytest

from crawler.archive import Archive, BlobRef
from crawler.simulator import DatasetSpec, FaultPlan, SimulatorConfig, running_simulator
from tests.support import crawl

SMALL = {"big_document_bytes": 60_000, "big_file_bytes": 400_000, "file_size_max": 16_384}


def read_json(archive: Archive, fetch: dict[str, Any]) -> Any:
    return orjson.loads(archive.blobs.read(BlobRef.from_json(fetch["blob"])))


def page_items(archive: Archive, fetches: list[dict[str, Any]]) -> list[Any]:
    return [item for f in fetches for item in read_json(archive, f)["data"]]


def check_archive_matches(archive_dir: Path, dataset: Any) -> int:
    """Every project, detail, attachment, collaborator, document and file, as served."""
    with Archive.open_for_reading(archive_dir) as archive:
        snap = archive.require_snapshot()
        assert snap.status == "complete"
        rows = {row.project_id: row for row in archive.index.projects(snap.id)}
        truths = list(dataset.projects_truth())
        assert set(rows) == {t.id for t in truths}
        summed = dict.fromkeys(("documents", "files", "collaborators", "attachments", "bytes"), 0)
        for truth in truths:
            row = rows[truth.id]
            assert row.record is not None
            record = archive.read_record(row.record)
            assert record["list_entry"] == truth.list_entry
            for key, n in record["counts"].items():
                summed[key] += n
            summed["bytes"] += sum(d["text"]["size"] for d in record["documents"])
            summed["bytes"] += sum(f["blob"]["size"] for f in record["files"])
            if truth.gone:
                assert row.state == "gone" and record["detail"]["status"] == 404
                continue
            assert row.state == "done", (truth.id, record["failures"])
            assert read_json(archive, record["detail"]) == truth.detail
            assert page_items(archive, record["attachments"]) == truth.attachments
            assert page_items(archive, record["collaborators"]) == truth.collaborators
            docs = {d["id"]: d for d in record["documents"]}
            assert set(docs) == {d.id for d in truth.documents}
            for doc in truth.documents:
                text_ref = BlobRef.from_json(docs[doc.id]["text"])
                body = archive.blobs.read(text_ref)
                assert body == doc.text.encode("utf-8")
                assert text_ref.md5 == doc.md5 == hashlib.md5(body).hexdigest()
                assert archive.blobs.path_of(text_ref).name == doc.md5
                assert read_json(archive, docs[doc.id]["response"]) == doc.response
            files = {f["id"]: f for f in record["files"]}
            assert set(files) == {f.id for f in truth.files}
            for f in truth.files:
                ref = BlobRef.from_json(files[f.id]["blob"])
                assert ref.md5 == f.md5 and ref.size == f.size
                assert hashlib.md5(archive.blobs.read(ref)).hexdigest() == f.md5
                assert archive.blobs.path_of(ref).name == f.md5
        # The manifest's content counts (added up as the run went, across any
        # kills and resumes) equal the records' own.
        counts = archive.read_manifest(snap.id)["counts"]
        assert {k: counts[k] for k in summed} == summed
        return len(truths)


@pytest.mark.slow
async def test_full_crawl_is_complete_and_costs_exactly_the_minimum(tmp_path: Path) -> None:
    spec = DatasetSpec(seed=3, projects=250, **SMALL)
    async with running_simulator(SimulatorConfig(dataset=spec, rate=None)) as sim:
        assert await crawl(sim.base_url, sim.key, tmp_path / "a") == 0
        minimum = sim.dataset.minimum_requests(None, True, False)
        made = {ep: sum(by_status.values()) for ep, by_status in sim.counters.by_endpoint.items()}
        assert {ep: n for ep, n in made.items() if n} == {ep: n for ep, n in minimum.items() if n}
        assert sim.counters.rate_limited == 0
        assert check_archive_matches(tmp_path / "a", sim.dataset) == 250
        cases = sim.dataset.cases
        assert (
            cases.many_attachments_project and cases.many_collaborators_project and cases.tie_group
        )

    with Archive.open_for_reading(tmp_path / "a") as archive:
        manifest = archive.read_manifest(archive.require_snapshot().id)
    assert manifest["requests"]["total"] == sum(minimum.values())
    assert manifest["list_walk"]["final_request_id"]
    assert manifest["counts"]["projects"] == 250


@pytest.mark.slow
async def test_no_429_when_the_crawler_runs_at_the_simulators_rate(tmp_path: Path) -> None:
    spec = DatasetSpec(
        seed=5,
        projects=24,
        attachments_per_project=(0, 2),
        many_attachments=101,
        many_collaborators=101,
        **SMALL,
    )
    async with running_simulator(SimulatorConfig(dataset=spec, rate=40.0)) as sim:
        assert await crawl(sim.base_url, sim.key, tmp_path / "a", rate=40.0) == 0
        assert sim.counters.rate_limited == 0
        assert sim.counters.total == sum(sim.dataset.minimum_requests(None, True, False).values())


@pytest.mark.slow
async def test_rate_auto_shares_the_budget_and_the_manifest_says_so(tmp_path: Path) -> None:
    # 50 a second, another key spending 10 of them: auto's ceiling is 40 (20% reserve),
    # what is left is 40, and the crawler stays under both without a 429.
    spec = DatasetSpec(seed=5, projects=40, attachments_per_project=(0, 2), **SMALL)
    config = SimulatorConfig(dataset=spec, rate=50.0, background_rps=10.0)
    async with running_simulator(config) as sim:
        assert await crawl(sim.base_url, sim.key, tmp_path / "a", "--rate", "auto") == 0
        assert sim.counters.rate_limited == 0
        assert sim.state.limiter.background_refused == 0
        with Archive.open_for_reading(tmp_path / "a") as archive:
            manifest = archive.read_manifest(archive.require_snapshot().id)
    assert manifest["settings"]["rate_auto"] is True
    pacing = manifest["runs"][-1]["pacing"]
    assert pacing["mode"] == "auto" and pacing["server_limit"] == 50
    assert pacing["ceiling"] == pytest.approx(40, rel=0.02)
    assert 0 < pacing["achieved_rate"] <= 40.0
    assert pacing["others_peak_rate"] >= 9
    assert pacing["requests"] == manifest["requests"]["total"]


@pytest.mark.parametrize(
    "faults",
    [
        {"error_rate": 0.15},
        {"reset_rate": 0.1},
        {"truncate_rate": 0.1},
        {"malformed_rate": 0.1},
        {
            "error_rate": 0.05,
            "reset_rate": 0.05,
            "truncate_rate": 0.05,
            "malformed_rate": 0.05,
            "bad_content_md5_rate": 0.1,
            "corrupt_body_rate": 0.1,
        },
    ],
    ids=["5xx", "resets", "truncated", "malformed-json", "all"],
)
async def test_crawl_under_faults_is_still_complete_and_correct(
    tmp_path: Path, faults: dict[str, float]
) -> None:
    spec = DatasetSpec(seed=11, projects=40, **SMALL)
    plan = FaultPlan(seed=4, max_faults_per_url=2)
    plan.set(None, **faults)
    async with running_simulator(SimulatorConfig(dataset=spec, rate=None, faults=plan)) as sim:
        code = await crawl(
            sim.base_url, sim.key, tmp_path / "a", backoff_base=0.01, backoff_cap=0.05
        )
        assert code == 0
        plan.clear()
        assert check_archive_matches(tmp_path / "a", sim.dataset) == 40

"""Incremental snapshots read the Activity Feed: they miss nothing and cost only the changes.

Against the simulator over HTTP (its feed follows API.md: project events for
every mutation, a compliance_api_accessed event for every request, a
configurable visibility lag, 403 without the scope).
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

import orjson
import pytest

from crawler.archive import Archive
from crawler.cli import main
from crawler.errors import FeedRequiredError, ListWalkError
from crawler.read.connector import ExportFilters
from crawler.read.export import ExportOptions, write_ndjson
from crawler.read.reader import ArchiveReader
from crawler.simulator import DatasetSpec, SimulatorConfig, running_simulator
from crawler.simulator.auth import NO_FEED_SCOPES
from tests.support import crawl
from tests.test_archive_run import SMALL

# The simulator's events become visible within its lag (about a minute, as API.md says).
# A test lets that minute pass with sim.feed.settle() instead of waiting it out, so the
# crawler's window may end now instead of a minute ago.
FEED = {"feed_settle_seconds": 0}
SPEC = DatasetSpec(seed=31, projects=160, **SMALL)


def exported(path: Path) -> dict[str, dict[str, Any]]:
    """The latest snapshot's export with document texts, by project, minus provenance."""
    with ArchiveReader.open(path) as reader:
        snap = reader.snapshot()
        sink = io.BytesIO()
        write_ndjson(reader, snap, ExportOptions(include_content=True), sink, base=path)
    out = {}
    for line in sink.getvalue().splitlines():
        rec = orjson.loads(line)
        rec.pop("_archive")
        out[rec["id"]] = rec
    return out


def manifest(path: Path) -> dict[str, Any]:
    with Archive.open_for_reading(path) as archive:
        return archive.read_manifest(archive.require_snapshot().id)


def archived_md5s(path: Path) -> set[str]:
    with Archive.open_for_reading(path) as arc:
        return {ref.md5 for ref, _kind, _variant in arc.index.iter_blobs()}


def made(sim: Any) -> dict[str, int]:
    out = {e: sum(v.values()) for e, v in sim.counters.by_endpoint.items()}
    return {e: n for e, n in out.items() if n}


@pytest.mark.slow
async def test_incremental_with_the_feed_equals_a_full_snapshot(tmp_path: Path) -> None:
    inc, full = tmp_path / "inc", tmp_path / "full"
    async with running_simulator(SimulatorConfig(dataset=SPEC, rate=None)) as sim:
        ds = sim.dataset
        assert await crawl(sim.base_url, sim.key, inc) == 0
        assert manifest(inc)["feed"]["status"] == "full"
        # Every kind of change, one project each (~7% in all), a bulk deletion the feed
        # reports only as truncated, and read events that change nothing.
        changes = sim.mutate(seed=3, fraction=0.006, kinds="all", bulk=1, noise=20)
        sim.feed.settle()
        for kind, items in changes.as_dict().items():
            assert items, f"the mutation made no {kind}"
        touched = changes.touched_projects()
        assert 0.03 * len(ds.projects) <= len(touched) <= 0.08 * len(ds.projects)
        live = touched & set(ds.projects)
        before = archived_md5s(inc)

        sim.counters.reset()
        assert await crawl(sim.base_url, sim.key, inc, "--incremental", **FEED) == 0
        got = made(sim)
        m = manifest(inc)
        assert m["feed"]["status"] == "read"
        feed_pages = got.pop("activities")
        assert (
            feed_pages
            == len(m["feed"]["pages"])
            == max(1, math.ceil(m["feed"]["events"]["read"] / 5000))
        )
        # Exactly the list pages and the touched projects' minimum: nothing missed, nothing extra.
        want = ds.minimum_requests(only=live, archived_md5s=before)
        assert got == {k: v for k, v in want.items() if v}
        fetched = {p["id"]: p["why"] for p in m["projects"] if "why" in p}
        assert set(fetched) == live
        for pid in live - set(changes.projects_added):
            assert fetched[pid], pid

        # A full snapshot of the same moment, into another archive.
        assert await crawl(sim.base_url, sim.key, full) == 0
    a, b = exported(inc), exported(full)
    assert set(a) == set(b)
    for pid in b:
        assert a[pid] == b[pid], pid


NOFEED_KEY = "sk-ant-api01-simulator.no-feed-scope.0001"


def state_of(path: Path) -> tuple[int, int, list[str]]:
    with Archive.open_for_reading(path) as arc:
        return (
            len(arc.index.list_snapshots()),
            arc.index.count_blobs(),
            sorted(p.name for p in (path / "snapshots").iterdir()),
        )


@pytest.mark.slow
async def test_without_the_scope_it_says_so_and_carries_as_before(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    arc = tmp_path / "a"
    async with running_simulator(SimulatorConfig(dataset=SPEC, rate=None)) as sim:
        sim.add_key(NOFEED_KEY, NO_FEED_SCOPES)
        assert await crawl(sim.base_url, NOFEED_KEY, arc) == 0  # a full run reads no feed
        before = {t.id: t.list_entry for t in sim.dataset.projects_truth()}
        sim.mutate(seed=4, fraction=0.01, kinds="all")
        sim.feed.settle()
        after = {t.id: t.list_entry for t in sim.dataset.projects_truth()}
        listed_changed = {pid for pid, entry in after.items() if before.get(pid) != entry}
        sim.counters.reset()
        capsys.readouterr()
        assert await crawl(sim.base_url, NOFEED_KEY, arc, "--incremental", **FEED) == 0
        out = capsys.readouterr()
        m = manifest(arc)
        assert m["feed"]["status"] == "unavailable"
        assert m["feed"]["missing_scope"] == "read:compliance_activities"
        said = out.out + out.err
        assert said.count("lacks the scope read:compliance_activities") == 1
        assert "carried" in said
        # Today's behaviour: one 403, then the list entry alone decides.
        assert dict(sim.counters.by_endpoint["activities"]) == {403: 1}
        assert sum(sim.counters.by_endpoint["projects.get"].values()) == len(listed_changed)
        fetched = {p["id"] for p in m["projects"] if "why" in p}
        assert fetched == listed_changed

        before = state_of(arc)
        with pytest.raises(FeedRequiredError) as info:
            await crawl(sim.base_url, NOFEED_KEY, arc, "--incremental", "--require-feed", **FEED)
        assert info.value.exit_code == 2
        assert "read:compliance_activities" in str(info.value)
        assert state_of(arc) == before  # nothing written

        # With the scope again: no usable position behind the unavailable one, so all.
        sim.counters.reset()
        assert await crawl(sim.base_url, sim.key, arc, "--incremental", **FEED) == 0
        m = manifest(arc)
        assert m["feed"]["status"] == "no_position"
        assert sum(sim.counters.by_endpoint["projects.get"].values()) == len(sim.dataset.projects)
        assert all(p.get("why", {}).get("no_feed_position") for p in m["projects"])


def carried(path: Path) -> set[str]:
    return {p["id"] for p in manifest(path)["projects"] if p["state"] == "carried"}


@pytest.mark.slow
async def test_late_events_are_caught_by_the_next_incremental(tmp_path: Path) -> None:
    """Events visible only after a lag: missed by a run before it passes, caught after."""
    inc, full = tmp_path / "inc", tmp_path / "full"
    async with running_simulator(SimulatorConfig(dataset=SPEC, rate=None, feed_lag=600)) as sim:
        ds = sim.dataset
        assert await crawl(sim.base_url, sim.key, inc) == 0
        changes = sim.mutate(seed=6, fraction=0.01, kinds=("attach", "detach", "replace", "grant"))
        touched = changes.touched_projects() & set(ds.projects)
        # Before the lag has passed: most events are not visible yet.
        assert await crawl(sim.base_url, sim.key, inc, "--incremental", **FEED) == 0
        missed = touched & carried(inc)
        assert missed, "with a 10-minute lag the first incremental must miss some changes"
        archived = archived_md5s(inc)

        sim.feed.advance(601)  # every event is visible now, behind the last window's end
        sim.counters.reset()
        assert await crawl(sim.base_url, sim.key, inc, "--incremental", **FEED) == 0
        m = manifest(inc)
        refetched = {p["id"]: p["why"] for p in m["projects"] if "why" in p}
        # Exactly the missed ones: those caught the first time are deduplicated by id.
        assert set(refetched) == missed
        assert all(why.get("activities") for why in refetched.values())
        got = made(sim)
        assert got.pop("activities") == len(m["feed"]["pages"]) == 1
        want = ds.minimum_requests(only=missed, archived_md5s=archived)
        assert got == {k: v for k, v in want.items() if v}

        assert await crawl(sim.base_url, sim.key, full) == 0
    assert exported(inc) == exported(full)


async def test_activity_in_exports_and_the_updated_at_window(tmp_path: Path) -> None:
    """``export --include-activity`` shows who changed what; ``--updated-since`` selects."""
    arc, window = tmp_path / "a", tmp_path / "w"
    async with running_simulator(SimulatorConfig(dataset=SPEC, rate=None)) as sim:
        assert await crawl(sim.base_url, sim.key, arc) == 0
        changes = sim.mutate(seed=7, fraction=0.01, kinds="all")
        sim.feed.settle()
        assert await crawl(sim.base_url, sim.key, arc, "--incremental", **FEED) == 0
        # The list's updated_at filter, passed through: exactly what the server selects.
        assert await crawl(sim.base_url, sim.key, window, "--updated-since", changes.at) == 0
        expected = {t.id for t in sim.dataset.projects_truth({"updated_at_gte": changes.at})}
        events = {e["id"]: e for e in sim.feed.rendered()}
    assert expected and {p["id"] for p in manifest(window)["projects"]} == expected
    assert manifest(window)["filters"]["updated_at_gte"] == changes.at

    with ArchiveReader.open(arc) as reader:
        snap = reader.snapshot()
        sink = io.BytesIO()
        options = ExportOptions(
            include_activity=True, filters=ExportFilters(updated_since=changes.at)
        )
        write_ndjson(reader, snap, options, sink, base=arc)
        everything = io.BytesIO()
        write_ndjson(reader, snap, ExportOptions(include_activity=True), everything, base=arc)
    selected = [orjson.loads(line) for line in sink.getvalue().splitlines()]
    assert {r["id"] for r in selected} == expected  # the export's filter, offline
    records = {r["id"]: r for r in map(orjson.loads, everything.getvalue().splitlines())}
    for pid, doc in changes.documents_replaced:
        acts = records[pid]["activities"]
        replaced = [a for a in acts if a["type"] == "claude_project_document_updated"]
        assert [a["claude_project_document_id"] for a in replaced] == [doc]
        assert replaced[0] == events[replaced[0]["id"]]  # as the API sent it, unknown fields too
        assert replaced[0]["actor"]["type"] == "user_actor"
    for pid, _ in changes.collaborators_granted:
        assert any(a["type"] == "role_assignment_granted" for a in records[pid]["activities"])
    untouched = set(records) - changes.touched_projects()
    assert all(records[p]["activities"] == [] for p in untouched)
    # The same through the command line.
    out = tmp_path / "changed.ndjson"
    argv = ["export", "--archive", str(arc), "--out", str(out), "--include-activity"]
    assert main([*argv, "--updated-since", changes.at]) == 0
    lines = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert lines == selected
    assert orjson.loads(out.with_name(out.name + ".manifest.json").read_bytes())["include_activity"]


async def test_a_feed_that_fails_stops_the_run_and_a_rerun_completes_it(tmp_path: Path) -> None:
    arc = tmp_path / "a"
    async with running_simulator(SimulatorConfig(dataset=SPEC, rate=None)) as sim:
        assert await crawl(sim.base_url, sim.key, arc) == 0
        changes = sim.mutate(seed=8, fraction=0.01)
        sim.feed.settle()
        live = changes.touched_projects() & set(sim.dataset.projects)
        before = state_of(arc)
        sim.faults.set("activities", error_rate=1.0)
        fast = {"max_attempts": 2, "backoff_base": 0.01, "backoff_cap": 0.01, **FEED}
        with pytest.raises(ListWalkError, match="reading the activity feed failed"):
            await crawl(sim.base_url, sim.key, arc, "--incremental", **fast)
        assert state_of(arc) == before  # the first page failed: no snapshot was started
        # Transient failures are retried; the rerun reads the window and misses nothing.
        sim.faults.set("activities", error_rate=0.5)
        assert (
            await crawl(sim.base_url, sim.key, arc, "--incremental", **{**fast, "max_attempts": 8})
            == 0
        )
        m = manifest(arc)
        assert m["feed"]["status"] == "read"
        assert {p["id"] for p in m["projects"] if "why" in p} == live

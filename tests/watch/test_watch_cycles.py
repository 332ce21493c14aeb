"""crawler watch end to end against the simulator: changes caught, idle cycles cheap."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp

from crawler.archive import Archive
from crawler.simulator import DatasetSpec, SimulatorConfig, running_simulator
from crawler.simulator.mutations import KINDS
from tests.support import crawl
from tests.test_archive_run import SMALL
from tests.test_feed_incremental import exported
from tests.watch.support import made, make_watch

SPEC = DatasetSpec(seed=41, projects=80, **SMALL)


def cycles_of(path: Path) -> list[str]:
    with Archive.open_for_reading(path) as arc:
        out = []
        for snap in arc.index.list_snapshots():
            out.append((arc.index.feed_state(snap.id) or {}).get("cycle", "full_walk"))
        return out


async def test_changes_are_caught_in_one_cycle_and_idle_cycles_cost_two_requests(
    tmp_path: Path,
) -> None:
    arc, full = tmp_path / "watch", tmp_path / "full"
    async with running_simulator(SimulatorConfig(dataset=SPEC, rate=None, feed_lag=0)) as sim:
        watch = make_watch(sim.base_url, sim.key, arc, cycles=1, every=0.01)
        assert await watch.run() == 0
        assert watch.reports[-1].kind == "full_walk" and watch.reports[-1].ok

        sim.counters.reset()
        watch = make_watch(sim.base_url, sim.key, arc, cycles=2, every=0.01)
        assert await watch.run() == 0
        assert [r.kind for r in watch.reports] == ["changes", "changes"]
        # Two idle cycles: one feed page and one filtered list page each, by the server's count.
        assert made(sim) == {"activities": 2, "projects.list": 2}

        # Every kind of change the feed or updated_at can show (a hard delete shows in
        # neither: the full walk's job, tested below).
        kinds = [k for k in KINDS if k != "hard_delete"]
        changes = sim.mutate(seed=5, fraction=0.03, kinds=kinds)
        touched = changes.touched_projects()
        assert touched
        sim.counters.reset()
        watch = make_watch(sim.base_url, sim.key, arc, cycles=1, every=0.01)
        assert await watch.run() == 0
        report = watch.reports[-1]
        assert report.kind == "changes" and report.status == "complete"
        # One filtered page, and one page per project the feed named whose updated_at
        # did not move (listed again by its created_at: its entry may still have changed).
        assert 1 < made(sim)["projects.list"] <= 1 + len(touched)
        fetched = {p for p in touched if p in sim.dataset.projects}
        counts = report.manifest["counts"] if report.manifest else {}
        assert counts["done"] == len(fetched)
        assert counts["carried"] + counts["gone"] == len(sim.dataset.projects) - len(fetched)
        # The same moment, snapshot whole into another archive: identical exports.
        assert await crawl(sim.base_url, sim.key, full) == 0
    a, b = exported(arc), exported(full)
    assert set(a) == set(b)
    for pid in b:
        assert a[pid] == b[pid], pid
    assert cycles_of(arc) == ["full_walk", "changes", "changes", "changes"]


async def test_an_api_delete_is_seen_at_once_and_a_silent_removal_by_the_full_walk(
    tmp_path: Path,
) -> None:
    arc = tmp_path / "watch"
    async with running_simulator(SimulatorConfig(dataset=SPEC, rate=None, feed_lag=0)) as sim:
        assert await make_watch(sim.base_url, sim.key, arc, cycles=1).run() == 0
        # Deleted through the Compliance API by another consumer: only its
        # compliance_api_accessed event says so, and the next changes cycle reads it.
        victim = next(
            p.id
            for p in sim.dataset.sorted_projects()
            if not p.chats_count and not p.gone_on_detail
        )
        async with aiohttp.ClientSession() as http:
            url = f"{sim.base_url}/v1/compliance/apps/projects/{victim}"
            async with http.delete(url, headers={"x-api-key": sim.delete_key or ""}) as r:
                assert r.status == 200
        # Removed by a retention policy upstream: no event, no list entry.
        silent = sim.mutate(seed=8, fraction=0.01, kinds=["hard_delete"]).projects_hard_deleted
        assert silent and victim not in silent
        watch = make_watch(sim.base_url, sim.key, arc, cycles=1)
        assert await watch.run() == 0
        report = watch.reports[-1]
        assert report.kind == "changes"
        entries = {p["id"]: p for p in manifest_of(arc)["projects"]}
        assert entries[victim]["state"] == "gone"
        assert entries[victim]["why"]["activities"]
        assert set(silent).isdisjoint(entries)  # a delta: only what it changed is listed
        with Archive.open_for_reading(arc) as archive:
            sid = archive.require_snapshot().id
            for pid in silent:  # cannot see those: carried, resolved from the base
                row = archive.index.get_project(sid, pid)
                assert row is not None and row.state == "carried"

        # --full-every 0: the next cycle walks the whole list and sees them gone.
        watch = make_watch(sim.base_url, sim.key, arc, cycles=1, full_every=0)
        assert await watch.run() == 0
        assert watch.reports[-1].kind == "full_walk"
        m = manifest_of(arc)
        assert set(silent) <= set(m["removed_since_parent"])
        # The full walk is stored as a delta too: what vanished is a tombstone in it.
        assert m["manifest_format"] == 2
        listed = {p["id"]: p["state"] for p in m["projects"]}
        assert all(listed[p] == "removed" for p in silent)
        assert len(listed) < len(sim.dataset.projects)  # not a row per project
        with Archive.open_for_reading(arc) as archive:
            sid = archive.require_snapshot().id
            assert not set(silent) & archive.index.project_ids(sid)
            assert all(archive.index.get_project(sid, p) is None for p in silent)


def manifest_of(path: Path) -> dict[str, Any]:
    with Archive.open_for_reading(path) as archive:
        return archive.read_manifest(archive.require_snapshot().id)


async def test_an_event_visible_late_is_caught_by_the_next_cycle(tmp_path: Path) -> None:
    arc = tmp_path / "watch"
    async with running_simulator(SimulatorConfig(dataset=SPEC, rate=None, feed_lag=0)) as sim:
        assert await make_watch(sim.base_url, sim.key, arc, cycles=1).run() == 0
        sim.feed.lag = 3600.0  # recorded now, visible "within the hour": not yet
        changes = sim.mutate(seed=9, fraction=0.02, kinds=["replace"])
        replaced = {pid for pid, _doc in changes.documents_replaced}
        assert replaced
        watch = make_watch(sim.base_url, sim.key, arc, cycles=1)
        assert await watch.run() == 0
        assert watch.reports[-1].manifest["counts"]["done"] == 0  # type: ignore[index]
        sim.feed.settle()  # now visible, dated before the last read's end
        watch = make_watch(sim.base_url, sim.key, arc, cycles=1)
        assert await watch.run() == 0
        entries = {p["id"]: p for p in manifest_of(arc)["projects"]}
        assert replaced <= set(entries)
        assert all(entries[p]["why"]["activities"] for p in replaced)

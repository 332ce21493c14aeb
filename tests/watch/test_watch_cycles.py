"""crawler watch end to end against the simulator: changes caught, idle cycles cheap."""

from __future__ import annotations

from pathlib import Path

from crawler.archive import Archive
from crawler.simulator import DatasetSpec, SimulatorConfig, running_simulator
from crawler.simulator.mutations import KINDS
from tests.support import crawl
from tests.test_archive_run import SMALL
from tests.test_feed_incremental import exported
from tests.watch.support import made, make_watch

SPEC = DatasetSpec(seed=41, projects=120, **SMALL)


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

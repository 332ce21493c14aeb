"""The list walk and the workers side by side: projects are fetched while the walk goes
on, the walk's end gives the run's total, and a resumed run's total counts what is left.

Against the real simulator over HTTP; the progress events are recorded as they come.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from crawler.archive import Archive
from crawler.crawl.engine import Crawl
from crawler.progress import Progress
from crawler.simulator import DatasetSpec, FaultPlan, SimulatorConfig, running_simulator
from tests.support import crawl

SMALL = {"big_document_bytes": 60_000, "big_file_bytes": 400_000, "file_size_max": 16_384}
PROJECTS = 250  # three list pages: the last page's 50 are listed only at the walk's end


class Recorder:
    """The progress events of one run, in order; optionally stops the run after n projects."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, stop_after: int | None = None) -> None:
        self.events: list[tuple[str, int]] = []
        self.crawls: list[Crawl] = []
        project, listing_done, init = Progress.project, Progress.listing_done, Crawl.__init__

        def on_project(progress: Progress, state: str, *, failures: int = 0) -> None:
            project(progress, state, failures=failures)
            self.events.append(("project", progress.projects_done))
            if stop_after is not None and progress.projects_done == stop_after:
                self.crawls[-1].request_stop()

        def on_listing_done(progress: Progress, to_settle: int) -> None:
            listing_done(progress, to_settle)
            self.events.append(("total", to_settle))

        def on_init(crawl_: Crawl, *args: Any) -> None:
            init(crawl_, *args)
            self.crawls.append(crawl_)

        monkeypatch.setattr(Progress, "project", on_project)
        monkeypatch.setattr(Progress, "listing_done", on_listing_done)
        monkeypatch.setattr(Crawl, "__init__", on_init)

    def totals(self) -> list[int]:
        return [n for kind, n in self.events if kind == "total"]

    def settled_before_total(self) -> int:
        return next(i for i, (kind, _) in enumerate(self.events) if kind == "total")


def _slow_list() -> FaultPlan:
    plan = FaultPlan(seed=1)
    plan.set("projects.list", latency=(0.3, 0.3))  # a slow list: the walk alone is slow
    return plan


@pytest.mark.slow
async def test_workers_fetch_during_the_walk_and_its_end_gives_the_total(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rec = Recorder(monkeypatch)
    spec = DatasetSpec(seed=3, projects=PROJECTS, **SMALL)
    config = SimulatorConfig(dataset=spec, rate=None, faults=_slow_list())
    async with running_simulator(config) as sim:
        assert await crawl(sim.base_url, sim.key, tmp_path / "a") == 0
        minimum = sim.dataset.minimum_requests(None, True, False)
        assert sim.counters.total == sum(minimum.values())
    # The total came once, when the walk ended, and it is every project of the run.
    assert rec.totals() == [PROJECTS]
    # Workers did not wait for the walk: 0.9 s of list pages, projects settled meanwhile.
    assert rec.settled_before_total() > 0
    # ... and the total came before the run's end, not with it.
    assert rec.settled_before_total() < PROJECTS
    assert [n for kind, n in rec.events if kind == "project"] == list(range(1, PROJECTS + 1))


@pytest.mark.slow
async def test_a_resumed_runs_total_is_what_the_interrupted_run_left(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = DatasetSpec(seed=3, projects=PROJECTS, **SMALL)
    config = SimulatorConfig(dataset=spec, rate=None, faults=_slow_list())
    async with running_simulator(config) as sim:
        first = Recorder(monkeypatch, stop_after=40)
        assert await crawl(sim.base_url, sim.key, tmp_path / "a") == 130
        with Archive.open_for_reading(tmp_path / "a") as archive:
            running = archive.index.list_snapshots()[-1]
            assert running.status == "running"
            states = archive.index.count_projects(running.id)
        settled = sum(states.get(s, 0) for s in ("done", "carried", "gone"))
        assert settled >= 40
        assert first.totals() in ([], [PROJECTS])  # the stop may come before the walk's end
        monkeypatch.undo()
        second = Recorder(monkeypatch)
        assert await crawl(sim.base_url, sim.key, tmp_path / "a") == 0
    assert second.totals() == [PROJECTS - settled]
    done = [n for kind, n in second.events if kind == "project"]
    assert done[-1] == PROJECTS - settled

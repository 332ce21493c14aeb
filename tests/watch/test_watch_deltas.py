"""Changes cycles are delta snapshots: they store what they changed, and every reader
still sees each snapshot whole (export, diff, the desk's pages, verify), at any depth."""

from __future__ import annotations

import io
from pathlib import Path

import orjson
import pytest

import crawler.archive.carry_rows as carry_rows
from crawler.archive import Archive
from crawler.archive.project_pages import ProjectQuery
from crawler.archive.schema import PROJECT_STATES
from crawler.cli import main
from crawler.read.diff import diff_snapshots
from crawler.read.export import ExportOptions, write_ndjson
from crawler.read.indexer import search_path
from crawler.read.reader import ArchiveReader
from crawler.read.search import SearchFilters, run_search
from crawler.read.searchindex import SearchIndex
from crawler.read.searching import project_page
from crawler.simulator import DatasetSpec, SimulatorConfig, running_simulator
from tests.support import crawl
from tests.test_archive_run import SMALL
from tests.test_feed_incremental import exported
from tests.watch.support import make_watch

SPEC = DatasetSpec(seed=45, projects=50, **SMALL)


def export_ids(path: Path, snapshot_id: str) -> dict[str, str]:
    """Project id -> record sha256, as an export of that snapshot says."""
    with ArchiveReader.open(path) as reader:
        sink = io.BytesIO()
        write_ndjson(reader, reader.snapshot(snapshot_id), ExportOptions(), sink, base=path)
    out = {}
    for line in sink.getvalue().splitlines():
        rec = orjson.loads(line)
        out[rec["id"]] = (
            rec["_archive"]["record"]["sha256"] if rec["_archive"].get("record") else ""
        )
    return out


@pytest.mark.parametrize("max_depth", [400, 1])
async def test_deltas_store_what_changed_and_read_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, max_depth: int
) -> None:
    monkeypatch.setattr(carry_rows, "MAX_DEPTH", max_depth)  # 1: every other one materialised
    arc = tmp_path / "a"
    async with running_simulator(SimulatorConfig(dataset=SPEC, rate=None, feed_lag=0)) as sim:
        assert await make_watch(sim.base_url, sim.key, arc, cycles=1).run() == 0
        for seed in (1, 2, 3):
            sim.mutate(seed=seed, fraction=0.04, kinds=["replace", "rename", "attach"])
            assert await make_watch(sim.base_url, sim.key, arc, cycles=1).run() == 0
        assert await crawl(sim.base_url, sim.key, tmp_path / "full") == 0
    with Archive.open_for_reading(arc) as archive:
        index = archive.index
        snaps = index.list_snapshots()
        assert len(snaps) == 4
        full, *changes = snaps
        depths = [index.delta_base(s.id) for s in changes]
        total = len(index.project_ids(full.id))
        for snap, base in zip(changes, depths, strict=True):
            manifest = archive.read_manifest(snap.id)
            if base is None:  # materialised: a whole snapshot, format 1
                assert manifest["manifest_format"] == 1
                assert len(manifest["projects"]) == total
                continue
            assert manifest["manifest_format"] == 2
            assert manifest["delta"]["depth"] == base[1]
            own = index.own_projects(snap.id)
            assert 0 < len(own) < total / 2  # what it changed, not the organisation
            assert len(manifest["projects"]) == len(own)
            assert len(index.project_ids(snap.id)) == total  # read whole
            counts = index.count_projects(snap.id)
            assert sum(counts.values()) == total
            assert counts["carried"] + counts.get("gone", 0) >= total - len(own)
            rows, n = index.page_projects(snap.id, ProjectQuery(limit=10))
            assert n == total and len(rows) == 10
        if max_depth == 400:
            assert [d[1] if d else 0 for d in depths] == [1, 2, 3]
        else:
            assert [d[1] if d else 0 for d in depths] == [1, 0, 1]
    last = changes[-1].id
    with Archive.open_for_reading(tmp_path / "full") as other:
        truth = other.require_snapshot().id
    a, b = export_ids(arc, last), export_ids(tmp_path / "full", truth)
    assert set(a) == set(b)
    with ArchiveReader.open(arc) as reader:
        d = diff_snapshots(reader, reader.snapshot(full.id), reader.snapshot(last))
        assert d.changed and not d.added and not d.removed
        assert d.unchanged + len(d.changed) + len(d.incomparable) == total
    assert main(["verify", "--archive", str(arc), "--full"]) == 0


async def test_the_search_index_stores_what_a_delta_changed_and_searches_it_whole(
    tmp_path: Path,
) -> None:
    arc = tmp_path / "a"
    async with running_simulator(SimulatorConfig(dataset=SPEC, rate=None, feed_lag=0)) as sim:
        assert await make_watch(sim.base_url, sim.key, arc, cycles=1).run() == 0
        for seed in (1, 2):
            sim.mutate(seed=seed, fraction=0.04, kinds=["rename", "replace"])
            assert await make_watch(sim.base_url, sim.key, arc, cycles=1).run() == 0
    with ArchiveReader.open(arc) as reader:
        *_, last = reader.snapshots()
        own = {r.project_id for r in reader.own_rows(last.id)}
        total = len(reader.project_ids(last.id, PROJECT_STATES))
        carried = next(
            r for r in reader.rows(last.id) if r.state == "carried" and r.list_entry.get("name")
        )
        index = SearchIndex.open_reader(search_path(reader))
        assert index is not None
        with index:
            stored = index.conn.execute(
                "SELECT count(*) FROM members WHERE snapshot_id = ?", (last.id,)
            ).fetchone()[0]
            assert stored == len(own) < total  # what the delta changed, not the organisation
            name = str(carried.list_entry["name"])
            found = run_search(index, f'"{name}"', SearchFilters([last.id]), limit=100)
            assert carried.project_id in {h.project_id for h in found.hits}  # inherited, found
            assert all(h.snapshot_ids == [last.id] for h in found.hits)
            page = project_page(reader, index, last.id, ProjectQuery(limit=10, sort="-name"))
            assert page[1] == total and len(page[0]) == 10
            assert page == project_page(reader, None, last.id, ProjectQuery(limit=10, sort="-name"))


async def test_a_full_walk_is_stored_as_a_delta_with_tombstones(tmp_path: Path) -> None:
    arc, full = tmp_path / "a", tmp_path / "full"
    async with running_simulator(SimulatorConfig(dataset=SPEC, rate=None, feed_lag=0)) as sim:
        assert await make_watch(sim.base_url, sim.key, arc, cycles=1).run() == 0
        for seed in (1, 2):
            sim.mutate(seed=seed, fraction=0.04, kinds=["rename", "replace", "hard_delete"])
            watch = make_watch(sim.base_url, sim.key, arc, cycles=1, full_every=0)
            assert await watch.run() == 0
            assert watch.reports[-1].kind == "full_walk"
        assert await crawl(sim.base_url, sim.key, full) == 0
    with Archive.open_for_reading(arc) as archive:
        index = archive.index
        first, *walks = index.list_snapshots()
        for depth, snap in enumerate(walks, start=1):
            assert index.delta_base(snap.id) is not None
            assert index.delta_base(snap.id)[1] == depth  # type: ignore[index]
            own = index.own_projects(snap.id)
            assert len(own) < len(index.project_ids(first.id)) / 2
            assert any(r.state == "removed" for r in own)  # the hard deletes
        last = walks[-1].id
    a, b = exported(arc), exported(full)  # the latest snapshots, field by field
    assert set(a) == set(b) and all(a[p] == b[p] for p in b)
    assert main(["verify", "--archive", str(arc), "--full"]) == 0
    with ArchiveReader.open(arc) as reader:
        d = diff_snapshots(reader, reader.snapshot(first.id), reader.snapshot(last))
        assert d.removed and d.changed

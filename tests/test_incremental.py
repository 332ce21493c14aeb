"""Incremental snapshots: cost the list pages plus the changed projects, and equal a full snapshot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from crawler.archive import Archive, BlobRef
from crawler.simulator import DatasetSpec, SimulatorConfig, running_simulator
from tests.support import crawl
from tests.test_archive_run import SMALL, page_items, read_json


def content(archive: Archive, record: dict[str, Any]) -> dict[str, Any]:
    """What a record says about the project, without when or how it was fetched."""
    if record["state"] == "gone":
        return {"gone": True, "list_entry": record["list_entry"]}
    return {
        "list_entry": record["list_entry"],
        "detail": read_json(archive, record["detail"]),
        "attachments": page_items(archive, record["attachments"]),
        "collaborators": page_items(archive, record["collaborators"]),
        "documents": sorted(
            (d["id"], BlobRef.from_json(d["text"]).md5) for d in record["documents"]
        ),
        "files": sorted((f["id"], f["blob"]["md5"]) for f in record["files"]),
    }


def snapshot_contents(path: Path) -> dict[str, dict[str, Any]]:
    with Archive.open_for_reading(path) as archive:
        snap = archive.require_snapshot()
        assert snap.status == "complete"
        return {
            row.project_id: content(archive, archive.read_record(row.record))
            for row in archive.index.projects(snap.id)
            if row.record is not None
        }


def project_of(url: str, sim: Any) -> str | None:
    """Which project a request path belongs to (documents and files through the dataset)."""
    parts = url.split("?")[0].split("/")
    if "documents" in parts:
        return str(sim.dataset.document(parts[parts.index("documents") + 1]).project_id)
    if "files" in parts:
        file_id = parts[parts.index("files") + 1]
        return next(
            p.id for p in sim.dataset.projects_truth() if any(f.id == file_id for f in p.files)
        )
    if "projects" in parts and len(parts) > parts.index("projects") + 1:
        return parts[parts.index("projects") + 1]
    return None


@pytest.mark.slow
async def test_incremental_costs_only_changes_and_equals_a_full_snapshot(tmp_path: Path) -> None:
    # The list-entry rule alone: the feed window ends a minute before the run
    # (feed_settle_seconds), before this mutation, so the feed names nothing here
    # (tests/test_feed_incremental.py covers the feed).
    spec = DatasetSpec(seed=21, projects=120, many_attachments=101, many_collaborators=101, **SMALL)
    async with running_simulator(SimulatorConfig(dataset=spec, rate=None)) as sim:
        assert await crawl(sim.base_url, sim.key, tmp_path / "a") == 0
        before = {t.id: t.list_entry for t in sim.dataset.projects_truth()}
        changes = sim.mutate(seed=2, fraction=0.02)
        after = {t.id: t.list_entry for t in sim.dataset.projects_truth()}
        changed = {pid for pid, entry in after.items() if before.get(pid) != entry}
        assert changed, "the change set must touch some list entries"

        sim.counters.reset()
        sim.reset_faults()  # fresh per-URL history: it is our request log
        assert await crawl(sim.base_url, sim.key, tmp_path / "a", "--incremental") == 0
        # Feed pages apart (the window, ending a minute ago, holds none of this change).
        urls = {u: n for u, n in sim.state.decider.attempts.items() if "/activities" not in u}
        assert sum(sim.counters.by_endpoint["activities"].values()) <= 1
        list_pages = sim.counters.by_endpoint["projects.list"][200]
        assert list_pages == sim.dataset.list_pages(None, 100)
        assert sum(sim.counters.by_endpoint["projects.get"].values()) == len(changed)
        touched = {
            project_of(u, sim)
            for u in urls
            if "/apps/projects?" not in u and not u.endswith("/apps/projects")
        }
        assert touched <= changed

        # The same data, archived whole into a fresh archive, for comparison.
        sim.reset_faults()
        assert await crawl(sim.base_url, sim.key, tmp_path / "full") == 0
        full_urls = dict(sim.state.decider.attempts)
        needed = sum(n for u, n in full_urls.items() if project_of(u, sim) in changed)
        assert sum(urls.values()) <= list_pages + needed

    incremental, full = snapshot_contents(tmp_path / "a"), snapshot_contents(tmp_path / "full")
    assert set(incremental) == set(full)
    differing = {pid for pid in full if incremental[pid] != full[pid]}
    # Only the documented blind spot differs: changes that leave the list entry alone.
    invisible = {
        pid
        for pid, _ in changes.documents_replaced
        + changes.collaborators_granted
        + changes.collaborators_revoked
    }
    invisible |= {pid for pid, _ in changes.attachments_added + changes.attachments_removed}
    assert differing <= invisible - changed
    with Archive.open_for_reading(tmp_path / "a") as archive:
        manifest = archive.read_manifest(archive.require_snapshot().id)
    assert manifest["incremental"] is True
    gone = {pid for pid, c in full.items() if c.get("gone")}
    assert manifest["counts"]["carried"] == len(full) - len(changed & set(full)) - len(
        gone - changed
    )
    assert set(manifest["removed_since_parent"]) == set(changes.projects_hard_deleted) & set(before)


async def test_refresh_collaborators_catches_grants_without_refetching_the_rest(
    tmp_path: Path,
) -> None:
    spec = DatasetSpec(seed=22, projects=60, **SMALL)
    async with running_simulator(SimulatorConfig(dataset=spec, rate=None)) as sim:
        assert await crawl(sim.base_url, sim.key, tmp_path / "a") == 0
        changes = sim.mutate(seed=5, fraction=0.05)
        sim.counters.reset()
        assert (
            await crawl(
                sim.base_url, sim.key, tmp_path / "a", "--incremental", "--refresh-collaborators"
            )
            == 0
        )
        by_endpoint = sim.counters.by_endpoint
        listed = sum(1 for t in sim.dataset.projects_truth())
        assert sum(by_endpoint["collaborators"].values()) >= listed - 1  # the gone project has none
        full_gets = sum(by_endpoint["projects.get"].values())
        assert full_gets < listed / 2
    grants = {pid for pid, _ in changes.collaborators_granted + changes.collaborators_revoked}
    with Archive.open_for_reading(tmp_path / "a") as archive:
        snap = archive.require_snapshot()
        for row in archive.index.projects(snap.id):
            if row.project_id in grants and row.record is not None:
                assert row.state != "carried"

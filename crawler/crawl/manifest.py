"""Step 10: the snapshot manifest, written once every project is accounted for.

The header (filters, settings, times, counts, requests, failures) is built here;
the project list is streamed from the index as it is written, so memory stays
flat at any size (the archive's manifest module writes the bytes, then records
the manifest's sha256, status and finish time in one transaction: the finished
status is written there, once). Content counts are the run's totals
(:mod:`crawler.crawl.stats`), not a re-read of the records.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from crawler import __version__
from crawler.archive import Archive, ProjectRow, SnapshotRow
from crawler.canonical import canonical_json, utc_now
from crawler.config import Settings
from crawler.crawl.feed import FeedStep, FeedVerdict
from crawler.crawl.feed_plan import reasons_json
from crawler.crawl.stats import RunStats, merge_request_stats
from crawler.retention.ledger import deleted_by_retention

__all__ = ["write_snapshot_manifest"]

STATES = ("done", "partial", "gone", "failed", "carried", "listed")


def write_snapshot_manifest(
    archive: Archive,
    settings: Settings,
    snapshot: SnapshotRow,
    parent: SnapshotRow | None,
    stats: RunStats,
    feed: FeedStep,
    verdict: FeedVerdict,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write the manifest and finish the snapshot (``extra``: more header sections)."""
    index = archive.index
    failures, by_state = index.failures(snapshot.id), index.count_projects(snapshot.id)
    unfinished = sum(by_state.get(s, 0) for s in ("listed", "failed", "partial"))
    # md5_collision entries are reports (both bodies kept), not items to retry.
    retry = [f for f in failures if f["kind"] != "md5_collision"]
    status = "partial" if unfinished or retry else "complete"
    run_stats = stats.save(status)
    snap = index.get_snapshot(snapshot.id)
    removed, by_retention = _removals(archive, snap, parent)
    header: dict[str, Any] = {
        "manifest_format": 1,
        "snapshot_id": snapshot.id,
        "tool": {"name": "crawler", "version": __version__},
        "status": status,
        "incremental": bool(snap.parent_id),
        "parent_id": snap.parent_id,
        "filters": snap.filters,
        "settings": settings.public(),
        "started_at": snap.started_at,
        "finished_at": utc_now(),
        "runs": [
            {k: r[k] for k in ("started_at", "ended_at", "outcome", "pacing") if k in r}
            for r in run_stats["runs"]
        ],
        "list_walk": {
            "pages": snap.list_pages,
            "records": sum(by_state.values()),
            "final_request_id": snap.last_page_request_id,
        },
        "counts": {
            "projects": sum(by_state.values()),
            **{s: by_state.get(s, 0) for s in STATES},
            **stats.totals,
            "removed_since_parent": len(removed),
            "deleted_by_retention": len(by_retention),
        },
        "requests": merge_request_stats(r["requests"] for r in run_stats["runs"]),
        "failures": failures,
        "removed_since_parent": removed,
        "deleted_by_retention": by_retention,
        "feed": feed.summary(snapshot.id),
        **(extra or {}),
    }
    rows = _rows(archive, snapshot.id, header)
    entries = (_entry(archive, r, parent, verdict, settings.refresh_collaborators) for r in rows)
    archive.write_manifest_stream(snapshot.id, header, entries)
    return header


def _rows(archive: Archive, snapshot_id: str, header: dict[str, Any]) -> Iterable[ProjectRow]:
    """The rows the manifest lists: a delta's own only (docs/ARCHIVE.md, "Delta snapshots")."""
    delta = archive.index.delta_base(snapshot_id)
    if delta is None:
        return archive.index.projects(snapshot_id)
    header["manifest_format"] = 2
    header["delta"] = {"base_id": delta[0], "depth": delta[1]}
    return archive.index.own_projects(snapshot_id)


def _removals(
    archive: Archive, snap: SnapshotRow, parent: SnapshotRow | None
) -> tuple[list[str], list[dict[str, Any]]]:
    """(removed since the parent, deleted by retention since the previous snapshot).

    A project retention deleted (a receipt says so) is not counted as removed.
    """
    previous = parent or archive.index.latest_finished(snap.filter_key)
    by_retention = deleted_by_retention(archive, snap.id, previous)
    retained = {d["id"] for d in by_retention}
    removed = [p for p in _removed_since(archive, snap.id, parent) if p not in retained]
    return removed, by_retention


def _entry(
    archive: Archive,
    row: ProjectRow,
    parent: SnapshotRow | None,
    verdict: FeedVerdict,
    refresh_collaborators: bool,
) -> dict[str, Any]:
    if row.state == "removed":  # a delta's tombstone (docs/ARCHIVE.md, "Delta snapshots")
        return {"id": row.project_id, "state": row.state, "record": None}
    entry: dict[str, Any] = {
        "id": row.project_id,
        "state": row.state,
        "record": row.record.to_json() if row.record else None,
    }
    if parent is not None:
        why = _why(archive, row, parent, verdict, refresh_collaborators)
        if why is not None:
            entry["why"] = why
    return entry


def _why(
    archive: Archive,
    row: ProjectRow,
    parent: SnapshotRow,
    verdict: FeedVerdict,
    refresh_collaborators: bool,
) -> dict[str, Any] | None:
    """Why an incremental fetched this project whole; None when it was carried."""
    if row.state == "carried":
        return None  # its record is the parent's: no need to look the parent row up
    old = archive.index.get_project(parent.id, row.project_id)
    if old is not None and old.record is not None and old.record == row.record:
        return None  # the parent's record itself: carried
    listed = "new" if old is None else None
    if old is not None and canonical_json(old.list_entry) != canonical_json(row.list_entry):
        listed = "changed"
    why = reasons_json(listed, verdict.touched.get(row.project_id, ()))
    if verdict.mode == "no_position":
        why["no_feed_position"] = True
    if old is not None and old.state not in ("done", "carried", "gone"):
        why["parent_state"] = old.state  # not finished there: never carried
    if not why and refresh_collaborators:
        why["collaborators"] = "changed"
    return why


def _removed_since(archive: Archive, snapshot_id: str, parent: SnapshotRow | None) -> list[str]:
    """Projects the parent had (not gone) that this snapshot no longer lists."""
    if parent is None:
        return []
    index = archive.index
    now = index.project_ids(snapshot_id)  # one set, not a lookup per project
    return [
        r.project_id
        for r in index.projects(parent.id)
        if r.state != "gone" and r.project_id not in now
    ]

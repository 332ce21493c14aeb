"""Benchmark: what a day of ``crawler watch`` adds to the index (issue #20, item 2).

288 cycles (one day at ``--every 5m``) over a 20,000-project snapshot, each
changing 10 projects (7 named by the feed, 3 whose list entry moved) and reading
120 feed events (the 10 new ones and the hour of overlap re-read), written
through the archive's own calls in the order a changes cycle makes them: the
delta's seed, the filtered list page, each changed project's row, the feed page,
the manifest (its real codec). Measured: ``index.sqlite`` and ``snapshots/``
before and after, in bytes. For the ratio, the same cycles written the way
they were before delta snapshots (every row copied into every snapshot) for a
few cycles, extrapolated to 288 (the cost is the same each cycle).

No API, no blobs: record references are made up (the index never reads them),
so the figure is the index's and the manifests' alone.

    python -m bench.watch_index [projects] [cycles]
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import crawler.archive.carry_rows as carry_rows
from bench.common import mib, scratch, table, title
from crawler.archive import Archive, new_snapshot_id
from crawler.archive.project_pages import ProjectQuery
from crawler.archive.refs import BlobRef
from crawler.canonical import utc_now
from crawler.crawl.feed_plan import SeenEvent

PAGE = 100


def _ref(n: int) -> BlobRef:
    md5 = f"{n:032x}"
    return BlobRef(md5, f"{n:064x}", 2000 + n % 5000)


def _entry(i: int, gen: int = 0) -> dict[str, Any]:
    return {
        "id": f"claude_proj_{i:024d}",
        "name": f"Project {i} rev {gen}",
        "created_at": f"2024-01-01T{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z",
        "updated_at": f"2024-02-01T00:00:{gen % 60:02d}Z",
        "deleted_at": None,
        "is_private": False,
        "organization_id": "org_3k3ftzGipbikSsCiNP3VHJ2G",
        "organization_uuid": "cc22af58-be65-41cc-be24-34e37af027bc",
        "user": {"id": f"user_{i % 500:020d}", "email_address": f"user{i % 500}@example.com"},
    }


def _page_fetch(n: int) -> dict[str, Any]:
    return {
        "endpoint": "projects.list",
        "path": "/v1/compliance/apps/projects",
        "query": [["limit", "100"], ["page", f"tok{n:040d}"]],
        "status": 200,
        "request_id": f"req_{n:024d}",
        "fetched_at": utc_now(),
        "blob": _ref(900_000 + n).to_json(),
    }


def _event(n: int, pid: str, acted: bool) -> SeenEvent:
    event = {
        "id": f"activity_{n:026d}",
        "created_at": utc_now(),
        "organization_id": "org_3k3ftzGipbikSsCiNP3VHJ2G",
        "organization_uuid": "cc22af58-be65-41cc-be24-34e37af027bc",
        "actor": {"type": "user_actor", "user_id": "user_1", "email_address": "a@example.com"},
        "type": "claude_project_document_updated",
        "claude_project_id": pid,
        "claude_project_document_id": f"claude_proj_doc_{n:020d}",
        "filename": f"notes-{n}.md",
    }
    return SeenEvent(event["id"], pid, event["type"], event["created_at"], acted, event, not acted)


def _header(sid: str, parent: str | None) -> dict[str, Any]:
    return {
        "manifest_format": 1,
        "snapshot_id": sid,
        "status": "complete",
        "parent_id": parent,
        "counts": {"projects": 0},
        "requests": {"total": 52, "by_endpoint": {"activities": {"200": 1}}},
        "failures": [],
    }


def _base(arc: Archive, n: int) -> str:
    index, sid = arc.index, new_snapshot_id()
    index.create_snapshot(
        sid, filters={}, filter_key="k", settings={}, incremental=False, parent_id=None,
        started_at=utc_now(),
    )  # fmt: skip
    for p in range(0, n, PAGE):
        entries = [_entry(i) for i in range(p, min(n, p + PAGE))]
        index.record_list_page(
            sid, entries, watermark=entries[-1]["created_at"], request_id=None,
            page=_page_fetch(p),
        )  # fmt: skip
    for i in range(n):
        index.set_project(sid, _entry(i)["id"], "done", _ref(i))
    rows = ({"id": r.project_id, "state": r.state} for r in index.projects(sid))
    arc.write_manifest_stream(sid, _header(sid, None), rows)
    return sid


def _cycle(arc: Archive, parent: str, c: int, n: int) -> str:
    index, sid = arc.index, new_snapshot_id()
    index.create_snapshot(
        sid, filters={}, filter_key="k", settings={}, incremental=True, parent_id=parent,
        started_at=utc_now(),
    )  # fmt: skip
    named = [_entry((c * 10 + k) * 7919 % n)["id"] for k in range(7)]
    state: dict[str, Any] = {"status": "read", "cycle": "changes", "pages": [_page_fetch(c)]}
    events = [_event(c * 1000 + k, named[k % 7], k < 10) for k in range(120)]
    index.add_feed_page(sid, events, state)
    index.seed_from_parent(sid, parent, named, stats={"runs": []}, feed_state=state)
    moved = [_entry((c * 10 + 7 + k) * 7919 % n, gen=c + 1) for k in range(3)]
    index.upsert_list_page(sid, moved, request_id=None, page=_page_fetch(c))
    for k, pid in enumerate(named + [e["id"] for e in moved]):
        index.record_project(sid, pid, "done", _ref(n + c * 10 + k), [], stats={"runs": []})
    header = _header(sid, parent)
    if index.delta_base(sid):
        header["manifest_format"] = 2
        rows: Iterator[Any] = iter(index.own_projects(sid))
    else:
        rows = index.projects(sid)
    arc.write_manifest_stream(sid, header, ({"id": r.project_id, "state": r.state} for r in rows))
    return sid


def _full_walk(arc: Archive, parent: str, n: int) -> str:
    """The day's full walk as watch stores it: every entry listed, the unchanged carried,
    then compacted into a delta of its parent (index.compact_into_delta)."""
    index, sid = arc.index, new_snapshot_id()
    index.create_snapshot(
        sid, filters={}, filter_key="k", settings={}, incremental=True, parent_id=parent,
        started_at=utc_now(),
    )  # fmt: skip
    for p in range(0, n, PAGE):
        entries = [index.get_project(parent, _entry(i)["id"]) for i in range(p, min(n, p + PAGE))]
        listed = [r.list_entry for r in entries if r is not None]
        index.record_list_page(sid, listed, watermark=None, request_id=None, page=_page_fetch(p))
        for r in entries:
            if r is not None:
                index.set_project(sid, r.project_id, "carried", r.record)
    index.compact_into_delta(sid, parent)
    header = _header(sid, parent)
    header["manifest_format"] = 2
    rows = ({"id": r.project_id, "state": r.state} for r in index.own_projects(sid))
    arc.write_manifest_stream(sid, header, rows)
    return sid


def _sizes(path: Path) -> tuple[int, int]:
    index = (path / "index.sqlite").stat().st_size
    manifests = sum(f.stat().st_size for f in (path / "snapshots").iterdir())
    return index, manifests


def _day(path: Path, n: int, cycles: int) -> dict[str, Any]:
    arc = Archive.open_for_writing(path)
    parent = _base(arc, n)
    arc.close()
    before = _sizes(path)
    base = before[0]
    arc = Archive.open_for_writing(path)
    t0 = time.monotonic()
    for c in range(cycles):
        parent = _cycle(arc, parent, c, n)
    spent = time.monotonic() - t0
    t1 = time.monotonic()
    total = len(arc.index.project_ids(parent))
    resolve = time.monotonic() - t1
    arc.close()
    after = _sizes(path)
    arc = Archive.open_for_writing(path)
    walked = _full_walk(arc, parent, n)
    arc.close()
    with_walk = _sizes(path)
    with Archive.open_for_reading(path) as reader:  # the desk: a page of the deepest one
        pages = []
        for _ in range(3):
            t2 = time.monotonic()
            reader.index.page_projects(parent, ProjectQuery(limit=50, sort="-updated"))
            pages.append(time.monotonic() - t2)
    return {
        "pages": pages,
        "index": after[0] - before[0],
        "manifests": after[1] - before[1],
        "seconds": spent,
        "resolve_seconds": resolve,
        "projects": total,
        "base": base,
        "with_walk": with_walk[0] - before[0],
        "walked": walked,
    }


def run(n: int = 20_000, cycles: int = 288) -> dict[str, Any]:
    title(f"watch: index growth, {cycles} cycles x 10 changes at {n:,} projects")
    with scratch("watch-index") as tmp:
        delta = _day(tmp / "delta", n, cycles)
        saved = carry_rows.MAX_DEPTH
        carry_rows.MAX_DEPTH = 0  # every snapshot a full copy: how it was before deltas
        try:
            copy = _day(tmp / "copy", n, 3)
        finally:
            carry_rows.MAX_DEPTH = saved
    per = {k: copy[k] / 3 * cycles for k in ("index", "manifests")}
    print(
        table(
            ["", "index.sqlite", "manifests", "write s", "resolve 1 snapshot s"],
            [
                [
                    "delta snapshots (measured)",
                    mib(delta["index"]),
                    mib(delta["manifests"]),
                    f"{delta['seconds']:.1f}",
                    f"{delta['resolve_seconds']:.3f}",
                ],
                [
                    f"full copies (3 measured, x{cycles / 3:.0f})",
                    mib(per["index"]),
                    mib(per["manifests"]),
                    f"{copy['seconds'] / 3 * cycles:.1f}",
                    f"{copy['resolve_seconds']:.3f}",
                ],
            ],
        )
    )
    assert delta["projects"] == n, delta
    ratio = per["index"] / max(1, delta["index"])
    print(f"then the day's full walk, stored as a delta: {mib(delta['with_walk'])} in all "
          f"for the day (one whole snapshot is {mib(delta['base'])})")  # fmt: skip
    first, *then = delta["pages"]
    print(f"a desk page of the deepest delta (depth {cycles}): first {first * 1000:.0f} ms "
          f"(resolving), then {max(then) * 1000:.0f} ms")  # fmt: skip
    print(f"index growth for {cycles} cycles: {mib(delta['index'])} (target <= 50 MiB); "
          f"full copies would add {mib(per['index'])}, {ratio:.0f}x more; one whole snapshot "
          f"(a full walk, {n:,} rows) is {mib(delta['base'])} of index")  # fmt: skip
    met = delta["index"] <= 50 * 1024 * 1024
    return {"index_bytes": delta["index"], "manifest_bytes": delta["manifests"], "met": met}


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:]]
    run(*args)

"""The Activity Feed's rows in a cache rebuilt from the bucket: the same, row for row."""

from __future__ import annotations

import sqlite3
from contextlib import redirect_stdout
from io import StringIO
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from crawler.archive import Archive
from crawler.archive.feed_rows import REPEAT
from crawler.archive.store.location import parse_archive
from crawler.cli import main
from crawler.simulator import Simulator
from tests.s3.conftest import Bucket
from tests.support import crawl
from tests.watch.support import make_watch

pytestmark = pytest.mark.timeout(240)

FEED = {"feed_settle_seconds": 0}  # sim.feed.settle() lets the feed's lag pass instead


def run(*args: str) -> str:
    out = StringIO()
    with redirect_stdout(out):
        assert main(list(args)) == 0, out.getvalue()
    return out.getvalue()


def rows(cache: Path, table: str) -> list[tuple[Any, ...]]:
    (index,) = cache.glob("*/index.sqlite")
    with sqlite3.connect(f"file:{index}?mode=ro", uri=True) as db:
        return db.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()


def feed_states(found: list[tuple[Any, ...]]) -> dict[str, Any]:
    return {sid: orjson.loads(state) for sid, state in found}


def seen(url: str, tmp: Path, name: str) -> dict[str, Any]:
    """What a user sees that the feed rows make: the export's activities, the watch's
    newest change, the feed's counts per snapshot (``status`` first, which rebuilds)."""
    out = tmp / f"{name}.ndjson"
    run("status", "--archive", url)
    run("export", "--archive", url, "--out", str(out), "--include-activity")
    lines = [orjson.loads(x) for x in out.read_bytes().splitlines()]
    with Archive.open_for_reading(parse_archive(url)) as arc:
        snaps = arc.index.list_snapshots()
        per = {
            s.id: (
                arc.index.feed_event_counts(s.id),
                arc.index.feed_touched(s.id),
                sorted(arc.index.feed_seen_ids(s.id)),
                arc.index.newest_change(s.id),
            )
            for s in snaps
        }
    return {"export": {x["id"]: x.get("activities") for x in lines}, "per": per}


async def test_a_rebuilt_cache_holds_the_feed_events_the_crawl_wrote(
    sim: Simulator, bucket: Bucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = bucket.url()
    assert await crawl(sim.base_url, sim.key, url) == 0  # type: ignore[arg-type]
    for seed in (3, 4):  # the second read re-reads the first's events (the overlap)
        sim.mutate(seed=seed, fraction=0.1, kinds="all", noise=5)
        sim.feed.settle()
        assert await crawl(sim.base_url, sim.key, url, "--incremental", **FEED) == 0  # type: ignore[arg-type]
    events, states = rows(bucket.cache, "feed_events"), rows(bucket.cache, "snapshot_feed")
    acted = [e for e in events if e[6] == 1]
    repeats = [e for e in events if e[7] == REPEAT]
    assert acted and repeats and len(states) == 3  # the test reaches what matters
    before = seen(url, tmp_path, "before")
    assert any(before["export"].values())  # some project's export shows its activities

    monkeypatch.setenv("CRAWLER_CACHE_DIR", str(tmp_path / "cache2"))  # another machine
    after = seen(url, tmp_path, "after")
    assert rows(tmp_path / "cache2", "feed_events") == events
    # The same states (JSON: the order of keys in the text is no answer to any query).
    assert feed_states(rows(tmp_path / "cache2", "snapshot_feed")) == feed_states(states)
    assert after == before


def table(cache: Path, sql: str) -> list[tuple[Any, ...]]:
    (index,) = cache.glob("*/index.sqlite")
    with sqlite3.connect(f"file:{index}?mode=ro", uri=True) as db:
        return db.execute(sql).fetchall()


async def test_watch_cycles_rebuilt_from_the_bucket_read_as_they_were_written(
    make_sim: Any, bucket: Bucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """crawler watch into a bucket: its delta snapshots and the compliance_api_accessed
    events it reads (a project DELETE kept) come back the same from another machine."""
    url = bucket.url()
    async with make_sim(feed_lag=0) as sim:
        assert await make_watch(sim.base_url, sim.key, url, cycles=1).run() == 0  # type: ignore[arg-type]
        sim.mutate(seed=1, fraction=0.1, kinds=["replace", "rename", "attach"])
        # A project deleted through the Compliance API: only its compliance_api_accessed
        # event says so (the one kind of that event the watch keeps a row of).
        victim = next(p.id for p in sim.dataset.sorted_projects() if not p.gone_on_detail)
        async with aiohttp.ClientSession() as http:
            gone = f"{sim.base_url}/v1/compliance/apps/projects/{victim}"
            async with http.delete(gone, headers={"x-api-key": sim.delete_key or ""}) as r:
                assert r.status == 200
        assert await make_watch(sim.base_url, sim.key, url, cycles=1).run() == 0  # type: ignore[arg-type]
        # A full walk stored as a delta, with a tombstone for each project deleted.
        sim.mutate(seed=2, fraction=0.1, kinds=["rename", "hard_delete"])
        walk = make_watch(sim.base_url, sim.key, url, cycles=1, full_every=0)  # type: ignore[arg-type]
        assert await walk.run() == 0 and walk.reports[-1].kind == "full_walk"
    queries = (
        "SELECT * FROM feed_events ORDER BY 1, 2",
        "SELECT * FROM snapshot_deltas ORDER BY 1",
        # Every column but list_page: a row that keeps an earlier record (a gone project
        # carried) names the page its walk listed it on, which no manifest records; the
        # rebuilt row names its record's page (docs/ARCHIVE.md, "The local cache").
        "SELECT snapshot_id, project_id, created_at, updated_at, organization_id, "
        "organization_uuid, user_id, user_email, deleted_at, list_entry, state, record_md5, "
        "record_sha256, record_size FROM snapshot_projects ORDER BY 1, 2",
        "PRAGMA user_version",
    )
    before = [table(bucket.cache, q) for q in queries]
    assert before[0] and len(before[1]) == 2  # events read, and deltas written
    assert any(e[3] == "compliance_api_accessed" and e[2] == victim for e in before[0])
    assert any(r[10] == "removed" for r in before[2])  # tombstones
    shown = seen(url, tmp_path, "before")
    monkeypatch.setenv("CRAWLER_CACHE_DIR", str(tmp_path / "cache2"))
    assert seen(url, tmp_path, "after") == shown
    assert [table(tmp_path / "cache2", q) for q in queries] == before

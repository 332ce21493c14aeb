"""Benchmark 6, the reviewer's desk: the search index and ``crawler serve`` on 20,000 projects.

One archive of 20,000 simulated projects (0-3 attachments, about half of them
documents, every fourth document multi-script) is crawled once (a full snapshot),
then 1% of the projects change and an incremental snapshot is taken. Measured
in this one run:

- index build time per 1,000 documents: ``crawler reindex --rebuild`` of the
  full snapshot alone, from the blobs;
- incremental indexing: the index as it stood after the full snapshot, brought
  up to date with the incremental one (what the crawl's last step does), against
  the full build: it must cost time in proportion to what is new;
- search p50/p95 over words, a phrase, a prefix, boolean queries, CJK and emoji;
- p95 render time of a snapshot's project list (pages, filters, sorts) and of a
  project page, through the aiohttp app on loopback (aim: under 100 ms each).

Archive on tmpfs (/dev/shm) when there is one. ``python -m bench.desk [N]``.
"""

from __future__ import annotations

import asyncio
import random
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiohttp.test_utils import TestClient, TestServer

from bench.common import crawl, note, scratch, table, title
from crawler.archive import Archive
from crawler.read import indexer
from crawler.read.reader import ArchiveReader
from crawler.read.search import SearchFilters, run_search
from crawler.read.searchindex import SEARCH_FILE, SearchIndex
from crawler.read.web.app import make_app
from crawler.simulator import DatasetSpec, running_simulator

PROJECTS = 20_000
QUERIES = (
    "audit",
    "compliance report",
    '"quarterly report"',
    "resea*",
    "budget OR legal",
    "policy NOT draft",
    "日本語",
    "中文内容 AND données",
    "🙂",
    "falcon",
)
TARGET_MS = 100.0


def spec(n: int) -> DatasetSpec:
    return DatasetSpec(
        seed=41,
        projects=n,
        attachments_per_project=(0, 3),
        collaborators_per_project=(0, 2),
        document_bytes=1500,
        file_size_max=1024,
        big_file_bytes=64 * 1024,
        big_document_bytes=200_000,
    )


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def build(archive: Path, n: int) -> tuple[str, str, Path, dict[str, Any]]:
    """Full snapshot, a copy of its search index, a 1% change, an incremental snapshot."""
    async with running_simulator(dataset=spec(n), rate=None) as sim:
        for i, doc in enumerate(sorted(sim.dataset.documents.values(), key=lambda d: d.id)):
            if i % 4 == 0 and doc.text_bytes > 0:
                doc.multibyte = True
        t0 = time.perf_counter()
        assert await crawl(sim.base_url, sim.key, archive) == 0
        crawl_s = time.perf_counter() - t0
        with Archive.open_for_reading(archive) as a:
            full = a.index.latest_finished()
            assert full is not None
        saved = archive.parent / "search-after-full.sqlite"
        shutil.copyfile(archive / SEARCH_FILE, saved)
        changes = sim.mutate(seed=7, fraction=0.01)
        assert await crawl(sim.base_url, sim.key, archive, "--incremental") in (0, 1)
        with Archive.open_for_reading(archive) as a:
            inc = a.index.latest_finished()
            assert inc is not None
        changed = sum(len(v) for k, v in changes.as_dict().items() if isinstance(v, list))
        return full.id, inc.id, saved, {"crawl_s": crawl_s, "changed": changed}


def index_rows(archive: Path, inc_id: str, saved: Path) -> tuple[list[tuple[Any, ...]], float, int]:
    with ArchiveReader.open(archive) as reader:
        # The full snapshot alone, from scratch (the incremental one is marked done already).
        tmp = archive.parent / "full-only.sqlite"
        pre = SearchIndex.open_writer(tmp)
        with pre.tx():
            pre.mark_indexed(inc_id, reader.snapshot(inc_id).manifest_sha256)
        pre.close()
        full = indexer.update(reader, tmp)
        tmp.unlink()
        # The index as the full snapshot left it, brought up to date with the incremental.
        shutil.copyfile(saved, archive / SEARCH_FILE)
        inc = indexer.update(reader)
    per_k = full.seconds / max(1, full.documents) * 1000
    rows = [
        (
            "full snapshot, from scratch",
            full.projects,
            full.records,
            full.documents,
            f"{full.bytes / 1e6:.1f}",
            f"{full.seconds:.2f}",
            f"{per_k:.3f}",
        ),
        (
            "incremental snapshot (1% changed)",
            inc.projects,
            inc.records,
            inc.documents,
            f"{inc.bytes / 1e6:.2f}",
            f"{inc.seconds:.2f}",
            "-",
        ),
    ]
    return rows, inc.seconds / full.seconds, inc.carried


def search_rows(archive: Path, snapshot: str) -> tuple[list[tuple[Any, ...]], float]:
    index = SearchIndex.open_reader(archive / SEARCH_FILE)
    assert index is not None
    rows, all_ms = [], []
    with index:
        for q in QUERIES:
            times, count = [], 0
            for _ in range(7):
                t0 = time.perf_counter()
                count = run_search(index, q, SearchFilters([snapshot]), limit=20).count
                times.append((time.perf_counter() - t0) * 1000)
            all_ms += times
            rows.append((q, count, f"{statistics.median(times):.1f}", f"{pct(times, 95):.1f}"))
    rows.append(("all queries", "-", f"{statistics.median(all_ms):.1f}", f"{pct(all_ms, 95):.1f}"))
    return rows, pct(all_ms, 95)


async def render_rows(archive: Path, snapshot: str, n: int) -> list[tuple[Any, ...]]:
    rng = random.Random(5)
    with ArchiveReader.open(archive) as reader:
        ids = [r.project_id for r, _ in zip(reader.rows(snapshot), range(n), strict=False)]
    lists = [f"/snapshots/{snapshot}?page={rng.randint(1, n // 50)}" for _ in range(20)]
    lists += [f"/snapshots/{snapshot}?sort=-name&page={rng.randint(1, 50)}" for _ in range(10)]
    lists += [f"/snapshots/{snapshot}?q=falcon&sort=-updated" for _ in range(5)]
    lists += [f"/snapshots/{snapshot}?deleted=yes&page=2" for _ in range(5)]
    pages = [f"/snapshots/{snapshot}/projects/{quote(p, safe='')}" for p in rng.sample(ids, 40)]
    out = []
    app = make_app(archive, verify_now=False)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        for name, urls in (("project list page", lists), ("project page", pages)):
            times = []
            for url in urls:
                t0 = time.perf_counter()
                r = await client.get(url)
                await r.read()
                times.append((time.perf_counter() - t0) * 1000)
                assert r.status == 200, url
            p95 = pct(times, 95)
            verdict = "met" if p95 < TARGET_MS else "MISSED"
            out.append((name, len(urls), f"{statistics.median(times):.1f}", f"{p95:.1f}", verdict))
    return out


def run(n: int = PROJECTS) -> dict[str, Any]:
    with scratch("desk", memory=True) as d:
        archive = d / "archive"
        _full_id, inc_id, saved, info = asyncio.run(build(archive, n))
        note(
            f"{n:,} projects crawled in {info['crawl_s']:.0f} s; {info['changed']} changed for the incremental"
        )
        title("6a. Search index: build time, and the cost of an incremental snapshot")
        idx, ratio, carried = index_rows(archive, inc_id, saved)
        print(
            table(
                ("indexing", "projects", "new records", "new texts", "MB", "s", "s / 1,000 texts"),
                idx,
            )
        )
        note(f"incremental / full indexing time: {ratio:.3f} (proportional to what is new)")
        note(f"incremental: {carried:,} carried projects copied from the parent's rows in SQL")
        title("6b. Search: ms per query on the latest snapshot (7 runs each)")
        rows, search_p95 = search_rows(archive, inc_id)
        print(table(("query", "hits", "p50 ms", "p95 ms"), rows))
        title("6c. crawler serve: render time through the app on loopback")
        renders = asyncio.run(render_rows(archive, inc_id, n))
        print(table(("page", "requests", "p50 ms", "p95 ms", f"< {TARGET_MS:.0f} ms"), renders))
    met = all(r[-1] == "met" for r in renders) and ratio < 0.25
    return {"met": met, "search_p95_ms": search_p95, "incremental_ratio": ratio}


if __name__ == "__main__":
    run(int(sys.argv[1]) if len(sys.argv) > 1 else PROJECTS)

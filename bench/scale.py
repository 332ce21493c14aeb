"""Benchmark 4, scale: peak RSS against the number of projects and the size of a file.

Each crawl runs in a fresh process (``bench.scale_child``), so its peak RSS
(VmHWM) is its own; the simulator runs in another (``crawler simulate --rate 0``).
Archives go to tmpfs (/dev/shm) when there is one: what is measured is the
crawler's memory, and a 20,000-project archive takes minutes to delete from
this machine's disk (ext4 mounted with online discard).

- 2,000 and 20,000 projects, 0-1 attachments and 0-1 collaborators each, edge
  cases on, unthrottled: memory must not grow with the number of projects.
- One 200 MB file body (the edge-case "big file" of a 10-project dataset),
  against the same dataset with a 4 MB big file: memory must not grow with the
  size of a file.

"Before finish" is the peak while projects are crawled, before the manifest is
written (``Crawl._finish``, step 10), which streams the project list from the index.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from bench.common import child_json, mib, note, scratch, simulator_process, table, title
from crawler.simulator import DatasetSpec

SIZES = (2_000, 20_000)
BIG_FILE = 200 * 1024 * 1024
SMALL_BIG_FILE = 4 * 1024 * 1024
GROWTH_LIMIT = 1.10  # "does not grow": the larger run's peak within 10% of the smaller's


def projects_spec(n: int) -> DatasetSpec:
    return DatasetSpec(
        seed=31, projects=n, attachments_per_project=(0, 1), collaborators_per_project=(0, 1)
    )


def file_spec(big: int) -> DatasetSpec:
    return DatasetSpec(seed=32, projects=10, big_file_bytes=big)


def one(spec: DatasetSpec) -> dict[str, Any]:
    with simulator_process(spec, rate=0) as sim, scratch("scale", memory=True) as d:
        env = "ANTHROPIC_COMPLIANCE_ACCESS_KEY"
        old = os.environ.get(env)
        os.environ[env] = sim.key
        try:
            return child_json(["-m", "bench.scale_child", sim.base_url, str(d / "archive")])
        finally:
            if old is None:
                os.environ.pop(env, None)
            else:
                os.environ[env] = old


def report(by_size: dict[int, dict[str, Any]], files: dict[int, dict[str, Any]]) -> bool:
    title("4. Scale: peak RSS of the crawler process (VmHWM)")
    rows = []
    for n, r in by_size.items():
        rows.append(
            (
                f"{n:,} projects",
                r["requests"],
                mib(r["baseline_hwm"]),
                mib(r.get("hwm_before_finish", 0)),
                mib(r["peak_hwm"]),
                f"{r['finish_ms'] / 1000:.1f}" if "finish_ms" in r else "-",
                f"{r['wall']:.1f}",
                f"{1000 * r['wall'] / n:.2f}",
                f"{r['requests'] / r['wall']:.0f}",
                r["status"],
            )
        )
    for size, r in files.items():
        rows.append(
            (
                f"10 projects, {size // (1024 * 1024)} MB file",
                r["requests"],
                mib(r["baseline_hwm"]),
                mib(r.get("hwm_before_finish", 0)),
                mib(r["peak_hwm"]),
                f"{r['finish_ms'] / 1000:.1f}" if "finish_ms" in r else "-",
                f"{r['wall']:.1f}",
                "-",
                f"{r['requests'] / r['wall']:.0f}",
                r["status"],
            )
        )
    print(
        table(
            (
                "crawl",
                "requests",
                "RSS at start",
                "peak before finish",
                "peak",
                "finish s",
                "wall s",
                "s / 1k projects",
                "req/s",
                "status",
            ),
            rows,
        )
    )
    small, large = (by_size[n] for n in SIZES)
    ratio = large["peak_hwm"] / small["peak_hwm"]
    crawl_ratio = large["hwm_before_finish"] / small["hwm_before_finish"]
    f_small, f_big = files[SMALL_BIG_FILE], files[BIG_FILE]
    f_ratio = f_big["peak_hwm"] / f_small["peak_hwm"]
    speed = (large["wall"] / SIZES[1]) / (small["wall"] / SIZES[0])
    note(
        f"peak RSS {SIZES[1]:,} / {SIZES[0]:,} projects: {ratio:.2f}"
        f" (before finish: {crawl_ratio:.2f}); time per project {speed:.2f}x"
    )
    note(f"peak RSS 200 MB file / 4 MB file: {f_ratio:.2f}")
    met = bool(ratio <= GROWTH_LIMIT and f_ratio <= GROWTH_LIMIT)
    note(
        f"target: no growth with projects or file size (ratios <= {GROWTH_LIMIT}):"
        f" {'MET' if met else 'MISSED'}"
    )
    return met


def run() -> dict[str, Any]:
    by_size = {n: one(projects_spec(n)) for n in SIZES}
    files = {size: one(file_spec(size)) for size in (SMALL_BIG_FILE, BIG_FILE)}
    met = report(by_size, files)
    return {"by_size": by_size, "files": files, "met": met}


def main() -> int:
    run()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark 3, overhead: the budget benchmark's crawl with the limit lifted.

The same dataset as ``bench.budget`` (200 projects, about 1,050 requests, 48 MB
of file bodies), with the simulator unthrottled (``crawler simulate --rate 0``,
no latency, no slow bodies) in its own process and the crawler at ``--rate 0``
in another (``bench.scale_child``), so each process's CPU time is its own.

It runs twice: with the archive on disk (every blob fsynced, as for users) and
on tmpfs (fsync is free: what the pipeline itself costs).
"""

from __future__ import annotations

import os
import sys
from typing import Any

from bench.budget import RATE
from bench.budget import SPEC as BUDGET_SPEC
from bench.common import child_json, note, scratch, simulator_process, table, title, tmpfs_dir

SPEC = BUDGET_SPEC


def one(memory: bool) -> dict[str, Any]:
    with simulator_process(SPEC, rate=0) as sim, scratch("overhead", memory=memory) as d:
        env_key = "ANTHROPIC_COMPLIANCE_ACCESS_KEY"
        old = os.environ.get(env_key)
        os.environ[env_key] = sim.key
        try:
            r = child_json(["-m", "bench.scale_child", sim.base_url, str(d / "archive")])
        finally:
            if old is None:
                os.environ.pop(env_key, None)
            else:
                os.environ[env_key] = old
    assert sim.rusage is not None
    r["sim_cpu"] = sim.rusage.ru_utime + sim.rusage.ru_stime
    r["where"] = "tmpfs" if memory else "disk"
    return r


def report(runs: list[dict[str, Any]]) -> None:
    title("3. Overhead: the budget crawl unthrottled (simulator and crawler), no latency")
    rows = []
    for r in runs:
        n = r["requests"]
        rows.append(
            (
                f"archive on {r['where']}",
                n,
                f"{r['wall']:.2f}",
                f"{n / r['wall']:.0f}",
                f"{n / r['wall'] / RATE:.0f}x",
                f"{1000 * r['cpu'] / n:.2f}",
                f"{1000 * r['sim_cpu'] / n:.2f}",
                f"{r['bytes_received'] / r['wall'] / 1e6:.1f}",
                r["status"],
            )
        )
    print(
        table(
            (
                "run",
                "requests",
                "wall s",
                "req/s",
                "vs 4/s",
                "crawler CPU ms/req",
                "simulator CPU ms/req",
                "MB/s",
                "status",
            ),
            rows,
        )
    )
    note(
        "CPU = user + system time of the process (fsync work in the blob writer's threads"
        " included); 2 cores shared by both processes"
    )


def run() -> dict[str, Any]:
    runs = [one(memory=False)]
    if tmpfs_dir() is not None:
        runs.append(one(memory=True))
    report(runs)
    return {"runs": runs}


def main() -> int:
    run()
    return 0


if __name__ == "__main__":
    sys.exit(main())

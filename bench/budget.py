"""Benchmark 1, budget use: how close a throttled crawl comes to the API's 4 requests/s.

A crawl of 200 projects (about 1,050 requests) against the simulator at its
strict 4-per-sliding-second limit, with 200-800 ms latency on every request and
slow multi-MB file bodies (50 ms between 64 KiB chunks, files up to 3 MB plus
one of 4 MB). The crawler runs at ``--rate 4 --concurrency 16``.

The achieved rate is measured at the server: the arrival times of the requests
its limiter admitted, (n - 1) / (last - first). The client spaces requests at
1 / (4 x 0.99) s, so 0.99 of the allowed rate is the most it can reach.

The simulator runs in-process (its counters and limiter are read directly), so
both run on asyncio's default loop: ``Simulator.start`` does not accept
uvloop's server object.
"""

from __future__ import annotations

import asyncio
import itertools
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import crawl, latest_manifest, note, record_admissions, scratch, table, title
from crawler.simulator import (
    DatasetSpec,
    EndpointFaults,
    FaultPlan,
    SimulatorConfig,
    running_simulator,
)

RATE = 4.0
CONCURRENCY = 16
SPEC = DatasetSpec(seed=11, projects=200, file_size_max=3_000_000)
LATENCY = (0.2, 0.8)
CHUNK_DELAY = 0.05  # seconds between 64 KiB chunks of a file body: a 3 MB file takes ~2.3 s
TARGET = 0.97


def faults() -> FaultPlan:
    return FaultPlan(
        seed=1,
        default=EndpointFaults(latency=LATENCY),
        endpoints={"files.content": EndpointFaults(latency=LATENCY, chunk_delay=CHUNK_DELAY)},
    )


async def measure(archive: Path) -> dict[str, Any]:
    config = SimulatorConfig(dataset=SPEC, rate=RATE, faults=faults())
    async with running_simulator(config) as sim:
        minimum = sum(sim.dataset.minimum_requests().values())
        admitted = record_admissions(sim)
        started = time.monotonic()
        code = await crawl(sim.base_url, sim.key, archive, rate=RATE, concurrency=CONCURRENCY)
        wall = time.monotonic() - started
        counters = sim.counters
        manifest = latest_manifest(archive)
    gaps = [b - a for a, b in itertools.pairwise(admitted)]
    interval = 1 / (RATE * 0.99)
    span = admitted[-1] - admitted[0]
    return {
        "exit": code,
        "status": manifest["status"],
        "minimum": minimum,
        "server_admitted": len(admitted),
        "server_total": counters.total,
        "server_429": counters.rate_limited,
        "client_total": manifest["requests"]["total"],
        "client_429": manifest["requests"]["rate_limited"],
        "retries": manifest["requests"]["retries"],
        "bytes": manifest["requests"]["bytes_received"],
        "span": span,
        "wall": wall,
        "achieved": (len(admitted) - 1) / span,
        # Time lost to gaps longer than 1.5 spacing intervals: the limiter sat idle.
        "idle": sum(g - interval for g in gaps if g > 1.5 * interval),
        "long_gaps": sum(1 for g in gaps if g > 1.5 * interval),
    }


def report(r: dict[str, Any]) -> bool:
    ratio = r["achieved"] / RATE
    floor = r["minimum"] / RATE
    rows = [
        ("requests admitted by the server", r["server_admitted"]),
        ("requests sent by the client (all attempts)", r["client_total"]),
        ("minimum requests for this dataset", r["minimum"]),
        ("crawl span, first to last request (s)", f"{r['span']:.1f}"),
        ("crawl wall time (s)", f"{r['wall']:.1f}"),
        ("floor: minimum / 4 (s)", f"{floor:.1f}"),
        ("achieved rate (requests/s)", f"{r['achieved']:.3f}"),
        ("achieved / allowed rate", f"{ratio:.3f}"),
        ("client ceiling (spacing margin 1%)", "0.990"),
        ("wall time / floor", f"{r['wall'] / floor:.3f}"),
        ("429s received", r["client_429"]),
        ("retries", r["retries"]),
        ("idle gaps > 1.5 intervals (count / s lost)", f"{r['long_gaps']} / {r['idle']:.1f}"),
        ("file and JSON bytes received", f"{r['bytes'] / 1e6:.1f} MB"),
        ("snapshot status", r["status"]),
    ]
    title("1. Budget use: 4 requests/s, 200-800 ms latency, slow multi-MB file bodies")
    print(table(("figure", "value"), rows))
    met = bool(ratio >= TARGET and r["client_429"] == 0 and r["server_429"] == 0)
    note(
        f"target: achieved/allowed >= {TARGET} and zero 429s: {'MET' if met else 'MISSED'}"
        f" ({SPEC.projects} projects, concurrency {CONCURRENCY})"
    )
    return met


def run() -> dict[str, Any]:
    """Measure and print the table; returns the figures (``met``: target reached)."""
    with scratch("budget") as d:
        result = asyncio.run(measure(d / "archive"))
    result["met"] = report(result)
    return result


def main() -> int:
    return 0 if run()["exit"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

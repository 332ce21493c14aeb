"""The archive in a bucket (issue #18): S3 against disk, requests per project, flat memory.

Against a real S3 server on loopback (SeaweedFS, as the tests start it: every port
free on 127.0.0.1, telemetry off, a fresh data directory), measured in one run:

1. the same full snapshot (``PROJECTS`` projects, unthrottled, simulator in-process)
   on disk and into a bucket under Object Lock (governance, 1 day): projects per
   second each, and the ratio (target: S3 >= 0.8x disk), twice: with the server
   on its own core and both crawls on another (as a bucket's servers are other
   machines'), and with everything sharing every core; and the crawler's CPU
   per project, S3 against disk (a figure about our code alone); the median of
   ``ROUNDS`` runs of each, disk and S3 in turns;
2. S3 requests per archived project, counted at the client (every request sent,
   retries included), for that snapshot and for an incremental one after it;
3. peak RSS (VmHWM) of a crawl into the bucket with a 1 GiB file body against the
   same with a 64 MiB one (both multipart; flat: within 10%) and a 4 MiB one (one
   part), each in a fresh process.

``python -m bench.vault`` (``[archive] cache_dir`` and the data go to a scratch dir).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import resource
import secrets
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench.common import child_json, crawl, mib, note, scratch, simulator_process, table, title
from crawler.archive.remote import connect_store
from crawler.archive.store import LockPolicy
from crawler.archive.store.location import parse_archive
from crawler.archive.store.s3_client import S3Bridge
from crawler.simulator import DatasetSpec, SimulatorConfig, running_simulator
from tests.s3.server import WeedServer, s3_client, start_weed

PROJECTS = 300
ROUNDS = 3  # each snapshot timed this many times, medians reported (a disk's fsyncs vary)
BIG_FILE = 1024 * 1024 * 1024
SMALL_FILE = 4 * 1024 * 1024
MID_FILE = 64 * 1024 * 1024  # the smallest that goes up in parts: flatness is against it
TARGET_RATIO = 0.8
FLAT = 1.10
LOCK = ("--object-lock", "governance", "--retain", "1d")


def _bucket(server: WeedServer) -> str:
    name = f"bench-{secrets.token_hex(4)}"
    s3_client(server.endpoint).create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    return name


class _Counted:
    """Every S3Bridge made while active, so their request counts can be summed."""

    def __init__(self) -> None:
        self.bridges: list[S3Bridge] = []
        self._init = S3Bridge.__init__

    def __enter__(self) -> _Counted:
        counted, init = self, self._init

        def tracking(bridge: S3Bridge, *args: Any, **kwargs: Any) -> None:
            init(bridge, *args, **kwargs)
            counted.bridges.append(bridge)

        S3Bridge.__init__ = tracking  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        S3Bridge.__init__ = self._init  # type: ignore[method-assign]

    @property
    def requests(self) -> int:
        return sum(b.requests for b in self.bridges)


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


_CORES = sorted(os.sched_getaffinity(0))  # what this process may use, before any pinning


def _pin(server: WeedServer, pinned: bool) -> bool:
    """Server on every core but the first, this process on the first; or all on all."""
    cores = _CORES
    if pinned and len(cores) < 2:
        return False
    ours, theirs = ({cores[0]}, set(cores[1:])) if pinned else (set(cores), set(cores))
    for pid, cpus in ((os.getpid(), ours), (server.process.pid, theirs)):
        for task in os.listdir(f"/proc/{pid}/task"):  # every thread, not just the main one
            with contextlib.suppress(OSError):  # a thread that just ended
                os.sched_setaffinity(int(task), cpus)
    return True


async def _timed(sim: Any, archive: Any, *flags: str) -> tuple[float, float]:
    cpu0, t0 = _cpu(), time.monotonic()
    assert await crawl(sim.base_url, sim.key, archive, *flags) == 0
    return time.monotonic() - t0, _cpu() - cpu0


async def _throughput(server: WeedServer, d: Path) -> dict[str, Any]:
    spec = DatasetSpec(seed=51, projects=PROJECTS)
    out: dict[str, Any] = {}
    async with running_simulator(SimulatorConfig(dataset=spec, rate=None)) as sim:
        for mode in ("pinned", "shared"):
            if not _pin(server, mode == "pinned"):
                continue
            runs: dict[str, list[tuple[float, float]]] = {"disk": [], "s3": []}
            for n in range(ROUNDS):  # disk and S3 in turns: both see the same machine
                runs["disk"].append(await _timed(sim, d / f"{mode}-{n}"))
                with _Counted() as counted:
                    url = f"s3://{_bucket(server)}/arc"
                    runs["s3"].append(await _timed(sim, url, *LOCK))
            _pin(server, False)
            for kind, timed in runs.items():
                out[f"{mode}_{kind}_s"] = statistics.median(t for t, _ in timed)
                out[f"{mode}_{kind}_cpu"] = statistics.median(c for _, c in timed)
        out["s3_requests_full"] = counted.requests
        out["s3_puts_full"] = sum(b.by_op["put"] for b in counted.bridges)
        for name in ("incremental", "incremental_again"):  # the second: within the margin
            with _Counted() as counted:
                assert await crawl(sim.base_url, sim.key, url, *LOCK, "--incremental") == 0  # type: ignore[arg-type]
                out[f"s3_requests_{name}"] = counted.requests
    return out


def _raw_puts(server: WeedServer, n: int = 1000) -> float:
    """PUTs per second the server takes from our store alone (32 at a time, 1 KiB each)."""
    location = parse_archive(f"s3://{_bucket(server)}/raw", policy=LockPolicy("governance", 86400))
    store = connect_store(location)  # type: ignore[arg-type]
    bodies = [secrets.token_bytes(1024) for _ in range(n)]

    def put(body: bytes) -> bool:
        md5, sha = hashlib.md5(body).hexdigest(), hashlib.sha256(body).hexdigest()
        return store.put_once(f"blobs/{md5[:2]}/{md5}", body, md5=md5, sha256=sha, size=1024)

    try:
        t0 = time.monotonic()
        with ThreadPoolExecutor(32) as pool:
            assert all(pool.map(put, bodies))
        return n / (time.monotonic() - t0)
    finally:
        store.close()


def _rss(server: WeedServer, big: int) -> dict[str, Any]:
    spec = DatasetSpec(seed=52, projects=3, big_file_bytes=big)
    url = f"s3://{_bucket(server)}/arc"
    with simulator_process(spec, rate=0) as sim:
        os.environ["ANTHROPIC_COMPLIANCE_ACCESS_KEY"] = sim.key
        return child_json(["-m", "bench.vault_child", sim.base_url, url, *LOCK], timeout=1200)


def run() -> dict[str, Any]:
    with ExitStack() as stack:
        d = stack.enter_context(scratch("vault"))
        server = start_weed(d / "weed")
        stack.callback(server.stop)
        saved = dict(os.environ)
        stack.callback(lambda: (os.environ.clear(), os.environ.update(saved)))
        os.environ.update(server.env())
        os.environ["CRAWLER_CACHE_DIR"] = str(d / "cache")
        speed = asyncio.run(_throughput(server, d))
        raw = _raw_puts(server)
        small, mid, big = (_rss(server, n) for n in (SMALL_FILE, MID_FILE, BIG_FILE))
    flat = big["peak_hwm"] / mid["peak_hwm"]
    speed_rows, ratios = _speed_rows(speed)
    ratio = ratios[0]  # pinned where the machine has two cores, else shared
    s3_s = speed.get("pinned_s3_s", speed["shared_s3_s"])
    title("12. The vault: an archive in a bucket under Object Lock (SeaweedFS on loopback)")
    print(
        table(
            ["figure", "value"],
            [
                *speed_rows,
                ["server's own PUT rate (1 KiB, 32 at a time, PUT/s)", f"{raw:.0f}"],
                ["crawler's PUT rate into S3 (PUT/s)", f"{speed['s3_puts_full'] / s3_s:.0f}"],
                ["crawler PUT rate / server PUT rate", f"{speed['s3_puts_full'] / s3_s / raw:.2f}"],
                ["S3 requests per project, full snapshot", f"{speed['s3_requests_full'] / PROJECTS:.2f}"],
                ["S3 requests per project, incremental (extends every carried lock)", f"{speed['s3_requests_incremental'] / PROJECTS:.2f}"],
                ["S3 requests per project, next incremental (within the margin)", f"{speed['s3_requests_incremental_again'] / PROJECTS:.2f}"],
                ["peak RSS, 4 MiB file", mib(small["peak_hwm"])],
                ["peak RSS, 64 MiB file (multipart)", mib(mid["peak_hwm"])],
                ["peak RSS, 1 GiB file (multipart)", mib(big["peak_hwm"])],
                [f"peak RSS 1 GiB / 64 MiB (flat: <= {FLAT})", f"{flat:.2f}"],
                ["peak RSS 1 GiB / 4 MiB (one part)", f"{big['peak_hwm'] / small['peak_hwm']:.2f}"],
                ["1 GiB crawl wall time (s)", f"{big['wall']:.1f}"],
            ],
        )
    )  # fmt: skip
    ok = ratio >= TARGET_RATIO and flat <= FLAT
    note("vault: " + ("ok" if ok else "below target"))
    return {"met": ok, "ratio": ratio, "flat": flat, **speed}


def _speed_rows(speed: dict[str, Any]) -> tuple[list[list[str]], list[float]]:
    rows: list[list[str]] = []
    ratios: list[float] = []
    for mode, how in (("pinned", "server on its own core"), ("shared", "all on every core")):
        if f"{mode}_s3_s" not in speed:
            rows.append([f"{how}: not measured (one core)", "-"])
            continue
        disk, s3 = PROJECTS / speed[f"{mode}_disk_s"], PROJECTS / speed[f"{mode}_s3_s"]
        ratios.append(s3 / disk)
        cpu = speed[f"{mode}_s3_cpu"] / speed[f"{mode}_disk_cpu"]
        rows += [
            [f"{how}: disk projects/s ({PROJECTS} projects, unthrottled)", f"{disk:.1f}"],
            [f"{how}: S3 projects/s (governance lock, 1 day)", f"{s3:.1f}"],
            [f"{how}: S3 / disk (target >= {TARGET_RATIO})", f"{s3 / disk:.2f}"],
            [f"{how}: crawler CPU per project, S3 / disk", f"{cpu:.2f}"],
        ]
    return rows, ratios


if __name__ == "__main__":
    run()

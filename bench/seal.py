"""Benchmark 8, the seal (issue #19): what the signed log adds to a snapshot's time and size.

A 20,000-project organisation (the scale benchmark's dataset) is crawled twice
into one archive (tmpfs, as ``bench.scale``), each crawl in a fresh process: the
first unsealed; then ``keys init``; the second sealed, with the signing key, its
seal syncs timed inside the crawl (``bench.seal_child``). The log's own work
per snapshot is also timed in this process on the finished archive:
the catch-up a run does as it starts (nothing to log) and the append that
follows a finished snapshot (one leaf, a signed checkpoint), each the median of
7; and again on disk, where each leaf and checkpoint costs its fsyncs. Size: the
bytes ``log/`` holds per event, against what a snapshot added to the archive.

``python -m bench.seal [N]`` for another number of projects.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import child_json, disk_usage, note, scratch, simulator_process, table, title
from bench.scale import projects_spec
from crawler.archive import Archive
from crawler.archive.log import Event
from crawler.read.verify import verify
from crawler.seal.audit import audit_seal
from crawler.seal.keyfile import init_keys
from crawler.seal.sealer import Sealer

PROJECTS = 20_000
TARGET = 0.03  # "a few percent" of a snapshot's time and size
REPEAT = 7


def _crawl(base_url: str, key: str, archive: Path, key_file: Path | None) -> dict[str, Any]:
    env = {"ANTHROPIC_COMPLIANCE_ACCESS_KEY": key}
    if key_file is not None:
        env["CRAWLER_SIGNING_KEY_FILE"] = str(key_file)
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        return child_json(["-m", "bench.seal_child", base_url, str(archive)], timeout=1800)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _apparent(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _median_ms(fn: Any) -> float:
    times = []
    for _ in range(REPEAT):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def _hook_costs(archive: Path, key_file: Path) -> tuple[float, float]:
    """(ms for a run's starting catch-up, ms to log and sign one new event)."""

    def quiet(_: str) -> None:
        return None

    noop = _median_ms(lambda: Sealer(archive, key_file, quiet).sync())
    n = iter(range(10**6))

    def one() -> None:
        # An event of a register the gatherers do not read: what a snapshot's leaf costs.
        event = Event("production", f"bench-{next(n)}", "0" * 64, "2100-01-01T00:00:00Z")
        Sealer(archive, key_file, quiet).append_event(event)

    return noop, _median_ms(one)


def run(projects: int = PROJECTS) -> dict[str, Any]:
    spec = projects_spec(projects)
    with simulator_process(spec, rate=0) as sim, scratch("seal", memory=True) as d:
        archive, key_file = d / "archive", d / "signing.pem"
        first = _crawl(sim.base_url, sim.key, archive, None)
        size_first = disk_usage(archive)["total"]
        init_keys(archive, key_file, "bench/seal")
        Sealer(archive, key_file, lambda _: None).sync()
        log_before = _apparent(archive / "log"), disk_usage(archive)["log"]
        second = _crawl(sim.base_url, sim.key, archive, key_file)
        usage = disk_usage(archive)
        size_second = usage["total"]
        log_per_snapshot = _apparent(archive / "log") - log_before[0]
        log_allocated = usage["log"] - log_before[1]
        with Archive.open_for_reading(archive) as arc:
            signed = archive / "log" / "checkpoints" / str(len(arc.index.list_snapshots()))
        assert signed.is_file(), "the sealed crawl did not sign its checkpoint"
        noop, append = _hook_costs(archive, key_file)
        with Archive.open_for_reading(archive) as arc:
            t0 = time.perf_counter()
            report = verify(arc)
            verify_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            audit = audit_seal(arc)
            audit_s = time.perf_counter() - t0
    with scratch("seal-disk") as d:
        # The same appends with fsync costing what it costs on this machine's disk.
        (d / "a").mkdir()
        init_keys(d / "a", d / "k.pem", "bench/seal-disk")
        _, append_disk = _hook_costs(d / "a", d / "k.pem")
    result = {
        "projects": projects,
        "first": first,
        "second": second,
        "noop_ms": noop,
        "append_ms": append,
        "append_disk_ms": append_disk,
        "log_bytes": log_per_snapshot,
        "log_allocated": log_allocated,
        "snapshot_bytes": size_first,
        "increment_bytes": size_second - size_first,
        "verify_s": verify_s,
        "audit_s": audit_s,
        "ok": report.ok and not audit.problems,
    }
    report_table(result)
    return result


def report_table(r: dict[str, Any]) -> None:
    title(f"8. The seal: its cost on a {r['projects']:,}-project snapshot")
    wall = r["second"]["wall"]
    hook = (r["noop_ms"] + max(r["append_ms"], r["append_disk_ms"])) / 1000
    rows = [
        ("crawl, unsealed (wall s)", f"{r['first']['wall']:.1f}", "-"),
        (
            "crawl, sealed (wall s; the machine is shared: noisy)",
            f"{wall:.1f}",
            f"{wall / r['first']['wall']:.3f}x the first",
        ),
        (
            "in the seal during the sealed crawl (s, syncs)",
            f"{r['second']['seal_s']:.3f} ({r['second']['seal_calls']})",
            f"{r['second']['seal_s'] / wall:.5f} of the crawl",
        ),
        ("catch-up as a run starts (ms)", f"{r['noop_ms']:.1f}", "-"),
        ("one leaf + signed checkpoint, tmpfs (ms)", f"{r['append_ms']:.1f}", "-"),
        ("one leaf + signed checkpoint, disk (ms)", f"{r['append_disk_ms']:.1f}", "-"),
        ("the log's time per snapshot (s)", f"{hook:.3f}", f"{hook / wall:.5f} of the crawl"),
        (
            "log bytes for the snapshot: written / allocated",
            f"{r['log_bytes']:,} / {r['log_allocated']:,}",
            "-",
        ),
        (
            "archive bytes allocated: first snapshot / second's increment",
            f"{r['snapshot_bytes']:,} / {r['increment_bytes']:,}",
            f"{r['log_allocated'] / r['snapshot_bytes']:.6f} / "
            f"{r['log_allocated'] / max(r['increment_bytes'], 1):.6f}",
        ),
        (
            "verify (fast, seal included) / seal audit alone (s)",
            f"{r['verify_s']:.2f} / {r['audit_s']:.3f}",
            f"{r['audit_s'] / r['verify_s']:.3f}",
        ),
    ]
    print(table(("measure", "value", "ratio"), rows))
    time_ratio = max(hook, r["second"]["seal_s"]) / wall
    size_ratio = r["log_allocated"] / max(r["increment_bytes"], 1)
    r["time_ratio"], r["size_ratio"] = time_ratio, size_ratio
    r["met"] = r["ok"] and time_ratio <= TARGET and size_ratio <= TARGET
    verdict = "MET" if r["met"] else "MISSED"
    note(
        f"target: the log adds at most {TARGET:.0%} to a snapshot's time and size: {verdict} "
        f"(time {time_ratio:.5f}, size {size_ratio:.6f} of what the snapshot added; "
        f"verify {'ok' if r['ok'] else 'FAILED'})"
    )


if __name__ == "__main__":
    run(int(sys.argv[1]) if len(sys.argv) > 1 else PROJECTS)

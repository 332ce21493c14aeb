"""Benchmark 5, archive growth: what a second snapshot of unchanged data costs on disk,
and how long ``verify`` and a full ``export`` take per 1,000 projects.

1,000 projects (default shape: 0-4 attachments, 0-3 collaborators, edge cases
on) from an unthrottled simulator in a subprocess; the crawler in this
process. Two full snapshots of the same data; disk use is measured after each
(allocated blocks, by part of the archive). Then, on the two-snapshot archive:
``crawler verify``, ``crawler verify --full`` (rehashes every blob), and the
latest snapshot exported as NDJSON with document content
(``export --out F --include-content``) and as a BagIt bag (``export --bag``),
each timed in-process through the CLI's ``main``.

The archive lives on tmpfs (/dev/shm) when there is one (see ``bench.scale``);
timings are therefore of a warm page cache, as right after a crawl.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import (
    crawl,
    disk_usage,
    latest_manifest,
    mib,
    note,
    scratch,
    simulator_process,
    table,
    title,
)
from crawler import loop
from crawler.cli import main as crawler_main
from crawler.simulator import DatasetSpec

PROJECTS = 1_000
SPEC = DatasetSpec(seed=41, projects=PROJECTS)
PARTS = ("blobs", "index.sqlite", "snapshots", "total")


def timed_cli(argv: list[str]) -> tuple[float, int]:
    started = time.monotonic()
    with (
        open(os.devnull, "w") as devnull,
        contextlib.redirect_stdout(devnull),
        contextlib.redirect_stderr(devnull),
    ):
        code = crawler_main(argv)
    return time.monotonic() - started, code


def blob_count(archive: Path) -> int:
    return sum(len(files) for _root, _dirs, files in os.walk(archive / "blobs"))


def measure(d: Path) -> dict[str, Any]:
    archive = d / "archive"
    out: dict[str, Any] = {}
    with simulator_process(SPEC, rate=0) as sim:
        for i in (1, 2):
            code = loop.run(crawl(sim.base_url, sim.key, archive))
            manifest = latest_manifest(archive)
            out[f"snap{i}"] = {
                "exit": code,
                "status": manifest["status"],
                "usage": disk_usage(archive),
                "blobs": blob_count(archive),
                "bytes": manifest["counts"]["bytes"],
                "requests": manifest["requests"]["total"],
            }
    a = str(archive)
    out["verify"] = timed_cli(["verify", "--archive", a])
    out["verify_full"] = timed_cli(["verify", "--archive", a, "--full"])
    ndjson = d / "export.ndjson"
    out["export_ndjson"] = timed_cli(
        ["export", "--archive", a, "--out", str(ndjson), "--include-content"]
    )
    out["ndjson_bytes"] = ndjson.stat().st_size if ndjson.exists() else 0
    bag = d / "bag"
    out["export_bag"] = timed_cli(["export", "--archive", a, "--bag", str(bag)])
    out["bag_bytes"] = disk_usage(bag)["total"] if bag.exists() else 0
    return out


def report(out: dict[str, Any]) -> None:
    title(f"5. Archive growth: {PROJECTS:,} projects, two full snapshots of unchanged data")
    one, two = out["snap1"]["usage"], out["snap2"]["usage"]
    rows = []
    for part in PARTS:
        a, b = one.get(part, 0), two.get(part, 0)
        rows.append((part, mib(a), mib(b), mib(b - a), f"{b / a:.3f}" if a else "-"))
    rows.append(
        (
            "blob files",
            out["snap1"]["blobs"],
            out["snap2"]["blobs"],
            out["snap2"]["blobs"] - out["snap1"]["blobs"],
            f"{out['snap2']['blobs'] / out['snap1']['blobs']:.3f}",
        )
    )
    print(table(("disk (allocated)", "1 snapshot", "2 snapshots", "added", "2 / 1"), rows))
    note(
        f"document texts and file bodies of one snapshot: {mib(out['snap1']['bytes'])};"
        f" status {out['snap1']['status']}, {out['snap2']['status']}"
    )
    print()
    rows = []
    for key, what, size in (
        ("verify", "verify (index, manifests, records, blob presence)", None),
        ("verify_full", "verify --full (rehash every blob)", None),
        ("export_ndjson", "export --out F.ndjson --include-content", out["ndjson_bytes"]),
        ("export_bag", "export --bag DIR", out["bag_bytes"]),
    ):
        seconds, code = out[key]
        rows.append(
            (
                what,
                f"{seconds:.2f}",
                f"{seconds * 1000 / PROJECTS:.2f}",
                mib(size) if size is not None else "-",
                code,
            )
        )
    print(
        table(
            ("offline command (2-snapshot archive)", "s", "s / 1k projects", "output", "exit"),
            rows,
        )
    )


def run() -> dict[str, Any]:
    with scratch("growth", memory=True) as d:
        out = measure(d)
    report(out)
    return out


def main() -> int:
    run()
    return 0


if __name__ == "__main__":
    sys.exit(main())

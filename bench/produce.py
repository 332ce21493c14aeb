"""Benchmark 8, productions: a 20,000-project snapshot (no file bodies) as a production volume.

One archive of 20,000 simulated projects (0-3 attachments, about half of them
documents; 0-2 collaborators; edge cases on) is crawled once with
``--no-files``. Then, each in a fresh process (``bench.produce_child``), so its
peak RSS (VmHWM) is its own:

- ``crawler produce`` of the first 2,000 projects (a ``--until`` that the
  2,001st project's ``created_at`` bounds), then of all 20,000 (another
  selection, so its numbers continue after the first's);
- ``crawler verify-production`` of the 20,000-project volume.

Memory must not grow with the selection: the 20,000-project peak within 10%
of the 2,000-project one. Archive and volumes on tmpfs (/dev/shm) when there
is one (what is measured is the producer, not the disk's fsync).
``python -m bench.produce [N]``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from bench.common import child_json, crawl, mib, note, scratch, simulator_process, table, title
from crawler import loop
from crawler.read.reader import ArchiveReader
from crawler.simulator import DatasetSpec

PROJECTS = 20_000
SMALL = 2_000
GROWTH_LIMIT = 1.10


def spec(n: int) -> DatasetSpec:
    return DatasetSpec(
        seed=51,
        projects=n,
        attachments_per_project=(0, 3),
        collaborators_per_project=(0, 2),
        document_bytes=1500,
        big_document_bytes=200_000,
        file_size_max=1024,
        big_file_bytes=64 * 1024,
    )


def _cut(archive: Path, small: int) -> str:
    """A --until that selects the first ``small`` projects of the snapshot (list order)."""
    with ArchiveReader.open(archive) as reader:
        snap = reader.snapshot()
        for i, row in enumerate(reader.rows(snap.id)):
            if i == small:
                return row.created_at
    raise RuntimeError(f"the snapshot has fewer than {small} projects")


def _produce(archive: Path, out: Path, *flags: str) -> dict[str, Any]:
    r = child_json(
        ["-m", "bench.produce_child", "produce", "--archive", str(archive), "--out", str(out),
         "--prefix", "BENCH", *flags],
        timeout=1800,
    )  # fmt: skip
    if r["exit"] != 0:
        raise RuntimeError(f"crawler produce exited {r['exit']}: {r['said']}")
    return r


def _row(name: str, r: dict[str, Any], projects: int, documents: int) -> tuple[Any, ...]:
    return (
        name,
        f"{projects:,}",
        f"{documents:,}",
        f"{r['wall']:.1f}",
        f"{1000 * r['wall'] / projects:.2f}",
        f"{documents / r['wall']:.0f}",
        mib(r["baseline_hwm"]),
        mib(r["peak_hwm"]),
    )


def _documents(said: str) -> int:
    # "produce: production N: A-B, F families, D documents (...)"
    return int(said.split(" families, ")[1].split(" documents")[0])


def run(n: int = PROJECTS) -> dict[str, Any]:
    with simulator_process(spec(n), rate=0) as sim, scratch("produce", memory=True) as d:
        archive = d / "archive"
        t0 = time.monotonic()
        code = loop.run(crawl(sim.base_url, sim.key, archive, "--no-files"))
        if code != 0:
            raise RuntimeError(f"the crawl exited {code}")
        note(f"{n:,} projects crawled (--no-files) in {time.monotonic() - t0:.0f} s")
        small = min(SMALL, n // 10)
        first = _produce(archive, d / "small", "--until", _cut(archive, small))
        whole = _produce(archive, d / "whole")
        check = child_json(["-m", "bench.produce_child", "verify", str(d / "whole")], timeout=1800)
    docs_small, docs_whole = _documents(first["said"]), _documents(whole["said"])
    title("8. Productions: a snapshot without file bodies as a Bates-numbered volume")
    rows = [
        _row(f"produce {small:,} projects", first, small, docs_small),
        _row(f"produce {n:,} projects", whole, n, docs_whole),
        _row(f"verify-production {n:,}", check, n, docs_whole),
    ]
    print(
        table(
            ("run", "projects", "documents", "wall s", "s / 1k projects", "docs/s",
             "RSS at start", "peak RSS"),
            rows,
        )
    )  # fmt: skip
    ratio = whole["peak_hwm"] / first["peak_hwm"]
    speed = (whole["wall"] / n) / (first["wall"] / small)
    met = bool(ratio <= GROWTH_LIMIT and check["exit"] == 0)
    note(f"peak RSS {n:,} / {small:,} projects: {ratio:.2f}; time per project {speed:.2f}x")
    note(f"verify-production exit {check['exit']}")
    note(
        f"target: memory flat in the selection (ratio <= {GROWTH_LIMIT}): {'MET' if met else 'MISSED'}"
    )
    return {"small": first, "whole": whole, "verify": check, "ratio": ratio, "met": met}


def main(argv: list[str]) -> int:
    run(int(argv[0]) if argv else PROJECTS)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

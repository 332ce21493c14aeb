"""``make bench``: every benchmark in sequence (issues #6, #11, #13, #19, #21), then a one-line verdict each.

Each is also runnable alone: ``python -m bench.budget``, ``bench.efficiency``,
``bench.overhead``, ``bench.scale``, ``bench.growth``, ``bench.desk``, ``bench.sharing``
(``abcd`` or a subset of its runs as argument), ``bench.produce``, ``bench.seal``,
``bench.watch_index``, ``bench.freshness``, ``bench.vault``.
"""

from __future__ import annotations

import platform
import sys
import time
from collections.abc import Callable
from typing import Any

from bench import (
    budget,
    desk,
    efficiency,
    freshness,
    growth,
    overhead,
    produce,
    scale,
    seal,
    sharing,
    vault,
    watch_index,
)
from bench.common import table, title

BENCHMARKS: tuple[tuple[str, Callable[[], dict[str, Any]]], ...] = (
    ("1. budget use", budget.run),
    ("2. request efficiency", efficiency.run),
    ("3. overhead", overhead.run),
    ("4. scale", scale.run),
    ("5. archive growth", growth.run),
    ("6. reviewer's desk", desk.run),
    ("7. sharing the budget", sharing.run),
    ("8. productions", produce.run),
    ("9. the seal", seal.run),
    ("10. watch: index growth", watch_index.run),
    ("11. watch: freshness", freshness.run),
    ("12. the vault (S3)", vault.run),
)


def main() -> int:
    print(
        f"crawler benchmarks: Python {platform.python_version()}, {platform.machine()},"
        f" {platform.system()} {platform.release()}",
        flush=True,
    )
    started = time.monotonic()
    rows = []
    for name, bench in BENCHMARKS:
        t0 = time.monotonic()
        result = bench()
        met = result.get("met")
        verdict = "-" if met is None else ("met" if met else "MISSED")
        rows.append((name, f"{time.monotonic() - t0:.0f}", verdict))
    title(f"Summary ({time.monotonic() - started:.0f} s in all)")
    print(table(("benchmark", "seconds", "target"), rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())

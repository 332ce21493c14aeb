"""One crawl in a fresh process, for a clean peak-RSS figure (used by ``bench.scale``).

Usage: ``python -m bench.scale_child BASE_URL ARCHIVE [crawler archive flags...]``
with the key in ``ANTHROPIC_COMPLIANCE_ACCESS_KEY``. Prints one JSON line:
peak RSS (VmHWM) before and after the crawl, wall and CPU seconds, requests.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import crawl, latest_manifest, vm_hwm_bytes, vm_rss_bytes
from crawler import loop
from crawler.crawl import Crawl


def main(argv: list[str]) -> int:
    base_url, archive, *flags = argv
    key = os.environ["ANTHROPIC_COMPLIANCE_ACCESS_KEY"]
    baseline = vm_hwm_bytes()  # everything imported, nothing crawled
    # The peak while projects are crawled vs while the manifest is written (step 10).
    marks: dict[str, int] = {}
    finish = Crawl._finish

    def timed_finish(self: Crawl, *args: Any, **kwargs: Any) -> Any:
        marks["hwm_before_finish"] = vm_hwm_bytes()
        marks["rss_before_finish"] = vm_rss_bytes()
        t0 = time.monotonic()
        try:
            return finish(self, *args, **kwargs)
        finally:
            marks["finish_ms"] = int((time.monotonic() - t0) * 1000)

    Crawl._finish = timed_finish  # type: ignore[method-assign]
    wall0, cpu0 = time.monotonic(), time.process_time()
    code = loop.run(crawl(base_url, key, Path(archive), *flags))
    wall, cpu = time.monotonic() - wall0, time.process_time() - cpu0
    peak = vm_hwm_bytes()  # before this process reads the manifest back below
    manifest = latest_manifest(Path(archive))
    print(
        json.dumps(
            {
                "exit": code,
                "status": manifest["status"],
                "projects": manifest["counts"]["projects"],
                "requests": manifest["requests"]["total"],
                "bytes_received": manifest["requests"]["bytes_received"],
                "baseline_hwm": baseline,
                "peak_hwm": peak,
                "rss_end": vm_rss_bytes(),
                "wall": wall,
                "cpu": cpu,
                **marks,
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

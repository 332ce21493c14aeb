"""One ``crawler produce`` (or ``verify-production``) in a fresh process, for a clean peak RSS.

Usage: ``python -m bench.produce_child produce|verify ARGS...`` (the command's
own flags). Prints one JSON line: exit code, wall and CPU seconds, peak RSS
(VmHWM) before and after.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import time

from bench.common import vm_hwm_bytes
from crawler.cli import main as crawler


def main(argv: list[str]) -> int:
    command, *args = argv
    baseline = vm_hwm_bytes()  # everything imported, nothing produced
    wall0, cpu0 = time.monotonic(), time.process_time()
    with contextlib.redirect_stdout(io.StringIO()) as said:
        code = crawler([{"produce": "produce", "verify": "verify-production"}[command], *args])
    wall, cpu = time.monotonic() - wall0, time.process_time() - cpu0
    print(
        json.dumps(
            {
                "exit": code,
                "wall": wall,
                "cpu": cpu,
                "baseline_hwm": baseline,
                "peak_hwm": vm_hwm_bytes(),
                "said": said.getvalue().strip()[-400:],
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

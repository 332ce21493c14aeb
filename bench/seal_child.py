"""``bench.scale_child`` with every ``Sealer.sync`` of the crawl timed (used by ``bench.seal``).

Prints scale_child's JSON line, plus ``seal_s`` (seconds spent in the seal's
syncs: the catch-up as the run starts, the leaf and checkpoint after the
snapshot) and ``seal_calls``.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import time
from typing import Any

from bench import scale_child
from crawler.seal.sealer import Sealer


def main(argv: list[str]) -> int:
    spent: list[float] = []
    real = Sealer.sync

    def timed(self: Sealer, *args: Any, **kwargs: Any) -> int:
        t0 = time.perf_counter()
        try:
            return real(self, *args, **kwargs)
        finally:
            spent.append(time.perf_counter() - t0)

    Sealer.sync = timed  # type: ignore[method-assign]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = scale_child.main(argv)
    result = json.loads(out.getvalue().strip().splitlines()[-1])
    print(json.dumps({**result, "seal_s": sum(spent), "seal_calls": len(spent)}))
    return code


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

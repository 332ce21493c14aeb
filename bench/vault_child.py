"""One crawl into a bucket in a fresh process, for a clean peak-RSS figure (``bench.vault``).

Usage: ``python -m bench.vault_child BASE_URL s3://BUCKET/PREFIX`` with the key in
``ANTHROPIC_COMPLIANCE_ACCESS_KEY`` and the AWS variables set. Prints one JSON line.
"""

from __future__ import annotations

import json
import os
import sys
import time

from bench.common import crawl, vm_hwm_bytes
from crawler import loop


def main(argv: list[str]) -> int:
    base_url, archive, *flags = argv
    key = os.environ["ANTHROPIC_COMPLIANCE_ACCESS_KEY"]
    baseline = vm_hwm_bytes()
    wall0 = time.monotonic()
    code = loop.run(crawl(base_url, key, archive, *flags))  # type: ignore[arg-type]
    print(json.dumps({"exit": code, "baseline_hwm": baseline, "peak_hwm": vm_hwm_bytes(),
                      "wall": time.monotonic() - wall0}))  # fmt: skip
    return 0 if code == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""``crawler verify-production DIR``: check a production (or its bag) from its own files.

Rehashes every file its checksum lists name, reads the load file back with
its own parser, and checks every native and text against its record (see
:mod:`crawler.produce.verify`). Exit 0 when everything matches, 1 on any
problem, 2 when DIR is not a production.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from crawler.produce.verify import verify_production


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", type=Path, metavar="DIR", help="a production directory or bag")


def run(args: argparse.Namespace) -> int:
    check = verify_production(args.path)
    for problem in check.problems:
        print(f"FAILED: {problem}")
    if check.ok:
        print(f"verify-production: OK: {check.checked} files and records match {args.path}")
        return 0
    print(f"verify-production: FAILED: {len(check.problems)} problems in {args.path}")
    return 1

"""``crawler productions``: the production register, oldest first (offline, read-only).

Each production: its id (for ``--reproduce``), Bates range, volume, snapshot,
who and when, the selection, and the sha256 of its load file; ``--json``
prints the rows whole, with their rewrites.
"""

from __future__ import annotations

import argparse
import sys

import orjson

from crawler.archive import Archive
from crawler.config import add_archive_argument, archive_path_from
from crawler.produce.bucket import open_register_reader
from crawler.read.reader import require_archive


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_archive_argument(parser)
    parser.add_argument("--json", action="store_true", help="print JSON")


def run(args: argparse.Namespace) -> int:
    path = archive_path_from(args)
    require_archive(path)
    with Archive.open_for_reading(path) as archive, open_register_reader(archive) as reg:
        rows = reg.productions()
        rewrites = {r.id: reg.reproductions(r.id) for r in rows}
    if args.json:
        out = [
            {**r.to_json(), "reproductions": [{"by": b, "at": a} for b, a in rewrites[r.id]]}
            for r in rows
        ]
        sys.stdout.write(orjson.dumps(out, option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    if not rows:
        print("no productions")
        return 0
    for r in rows:
        first, last = (f"{r.prefix}{n:0{r.digits}d}" for n in (r.first_number, r.last_number))
        again = f", rewritten {len(rewrites[r.id])}x" if rewrites[r.id] else ""
        print(f"{r.id:>4}  {first}-{last}  {r.volume}  snapshot {r.snapshot_id}  "
              f"{r.families} families, {r.documents} documents  by {r.by} at {r.at}{again}")  # fmt: skip
        print(f"      selection {r.selection}")
        print(f"      load file sha256 {r.load_file_sha256}")
    return 0

"""``crawler diff A B``: projects added, removed and changed between two snapshots (offline).

Text by default, one JSON object with ``--json``. What counts as a change is
described in :mod:`crawler.read.diff`. Exit 0 whether or not anything changed; 2 for an
unknown snapshot or a path that is not an archive; 1 for a damaged record.
"""

from __future__ import annotations

import argparse

import orjson

from crawler.config import add_archive_argument, archive_path_from
from crawler.read.diff import diff_snapshots, render_text
from crawler.read.reader import ArchiveReader


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_archive_argument(parser)
    parser.add_argument("a", metavar="A", help="the earlier snapshot id")
    parser.add_argument("b", metavar="B", help="the later snapshot id")
    parser.add_argument("--json", action="store_true", help="one JSON object")


def run(args: argparse.Namespace) -> int:
    with ArchiveReader.open(archive_path_from(args)) as reader:
        a = reader.snapshot(args.a)
        b = reader.snapshot(args.b)
        result = diff_snapshots(reader, a, b)
    if args.json:
        print(orjson.dumps(result.to_json(), option=orjson.OPT_INDENT_2).decode())
    else:
        for line in render_text(result):
            print(line)
    return 0

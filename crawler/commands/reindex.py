"""``crawler reindex``: bring the search index up to date, or ``--rebuild`` it from the blobs.

The index (``search.sqlite`` in the archive) is derived data: the crawl updates it
when a snapshot ends, and this command catches up after a kill or for archives
made before it existed. It holds the archive's lock, so it never races a crawl.
"""

from __future__ import annotations

import argparse
import sys

from crawler.archive import Archive
from crawler.config import add_archive_argument, archive_path_from
from crawler.read import indexer
from crawler.read.reader import ArchiveReader, require_archive


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_archive_argument(parser)
    parser.add_argument(
        "--rebuild", action="store_true", help="build a new index from scratch and swap it in"
    )
    parser.add_argument("--quiet", action="store_true", help="only errors")


def run(args: argparse.Namespace) -> int:
    path = archive_path_from(args)
    require_archive(path)  # not an archive at all: a usage error, nothing created

    def log(line: str) -> None:
        if not args.quiet:
            print(line, file=sys.stderr)

    with Archive.open_for_writing(path) as archive:
        reader = ArchiveReader(archive)
        stats = indexer.rebuild(reader, log) if args.rebuild else indexer.update(reader, log=log)
    if not args.quiet:
        print(
            f"indexed {len(stats.snapshots)} snapshots: {stats.projects} projects, "
            f"{stats.records} new records, {stats.documents} new document texts "
            f"({stats.bytes} bytes) in {stats.seconds:.2f}s"
        )
    return 0

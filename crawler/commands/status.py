"""``crawler status``: unfinished and finished snapshots, with their progress (offline)."""

from __future__ import annotations

import argparse

import orjson

from crawler.commands.snapshots import filters_text
from crawler.config import add_archive_argument, archive_path_from
from crawler.read.reader import ArchiveReader


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_archive_argument(parser)
    parser.add_argument("--json", action="store_true", help="one JSON object per snapshot")


def run(args: argparse.Namespace) -> int:
    path = archive_path_from(args)
    with ArchiveReader.open(path) as reader:  # not an archive: a usage error (exit 2)
        snapshots = reader.snapshots()
        if not snapshots:
            print(f"{path}: no snapshots yet")
            return 0
        for snap in snapshots:
            counts = reader.state_counts(snap.id)
            total = sum(counts.values())
            waiting = counts.get("listed", 0) + counts.get("failed", 0)
            if args.json:
                row = {
                    "id": snap.id,
                    "status": snap.status,
                    "started_at": snap.started_at,
                    "finished_at": snap.finished_at,
                    "incremental": snap.incremental,
                    "parent_id": snap.parent_id,
                    "filters": snap.filters,
                    "list_pages": snap.list_pages,
                    "watermark": snap.watermark,
                    "projects": counts,
                }
                print(orjson.dumps(row).decode())
                continue
            print(
                f"{snap.id}  {snap.status:<10} started {snap.started_at}  finished {snap.finished_at or '-'}"
            )
            print(f"  filters  {filters_text(snap.filters)}")
            states = ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none yet"
            print(f"  projects {total} listed in {snap.list_pages} pages: {states}")
            if snap.status == "running":
                print(
                    f"  unfinished: {total - waiting} of {total} listed projects done, list walked up to "
                    f"{snap.watermark or 'the start'}; rerun `crawler archive` with the same filters to resume"
                )
    return 0

"""``crawler snapshots``: every snapshot with its filters, times and counts (offline).

Text by default; ``--json`` prints one JSON object per snapshot (NDJSON, as
``crawler status --json`` does). Counts come from the index (projects by state)
and, for a finished snapshot, from its manifest (documents, files, collaborators,
bytes, requests).
"""

from __future__ import annotations

import argparse
from typing import Any

import orjson

from crawler.archive import SnapshotRow
from crawler.config import add_archive_argument, archive_path_from
from crawler.errors import ArchiveError
from crawler.read.reader import ArchiveReader


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_archive_argument(parser)
    parser.add_argument("--json", action="store_true", help="one JSON object per snapshot")


def describe(reader: ArchiveReader, snap: SnapshotRow) -> dict[str, Any]:
    by_state = reader.state_counts(snap.id)
    row: dict[str, Any] = {
        **snap.summary(),
        "projects": sum(by_state.values()),
        "by_state": by_state,
        "list_pages": snap.list_pages,
        "manifest": None,
    }
    if snap.manifest_sha256 is not None:
        try:
            manifest = reader.manifest(snap.id)
        except ArchiveError as exc:
            row["manifest"] = {"error": str(exc)}
        else:
            counts = manifest.get("counts") or {}
            requests = manifest.get("requests") or {}
            row["manifest"] = {
                "sha256": snap.manifest_sha256,
                "counts": counts,
                "requests": requests.get("total"),
                "failures": len(manifest.get("failures") or []),
            }
    return row


def run(args: argparse.Namespace) -> int:
    path = archive_path_from(args)
    with ArchiveReader.open(path) as reader:
        rows = [describe(reader, s) for s in reader.snapshots()]
    if args.json:
        for row in rows:
            print(orjson.dumps(row).decode())
        return 0
    if not rows:
        print(f"{path}: no snapshots yet")
        return 0
    for row in rows:
        kind = f"incremental from {row['parent_id']}" if row["incremental"] else "full"
        print(f"{row['id']}  {row['status']:<9} {kind}")
        print(f"  started  {row['started_at']}  finished {row['finished_at'] or '-'}")
        print(f"  filters  {filters_text(row['filters'])}")
        states = ", ".join(f"{k} {v}" for k, v in sorted(row["by_state"].items())) or "none"
        print(f"  projects {row['projects']}: {states}")
        manifest = row["manifest"]
        if manifest is None:
            print("  manifest none (unfinished)")
        elif "error" in manifest:
            print(f"  manifest problem: {manifest['error']}")
        else:
            c = manifest["counts"]
            print(
                f"  contents {c.get('documents', 0)} documents, {c.get('files', 0)} files, "
                f"{c.get('collaborators', 0)} collaborators, {c.get('bytes', 0)} bytes; "
                f"{manifest['requests']} requests, {manifest['failures']} failures"
            )
    return 0


def filters_text(filters: dict[str, Any]) -> str:
    """A snapshot's filters on one line (shared with ``crawler status``)."""
    parts = [f"{k}={v}" for k, v in filters.items() if v not in (None, [], ())]
    return " ".join(parts) or "(none: every project the key can see)"

"""``crawler export``: a snapshot as connector-shaped NDJSON, or a BagIt bag (offline).

    crawler export --archive DIR [--snapshot ID] [--out FILE|-] [--files-dir DIR]
                   [--include-content] [--org ID]... [--user ID|EMAIL]...
                   [--since TIME] [--until TIME] [--exclude-deleted]
    crawler export --archive DIR --bag BAGDIR [same filters] [--source-organization TEXT]

The record shape, and how gone, soft-deleted and unfetched projects appear, is
described in :mod:`crawler.read.export`. A file export also writes ``<out>.md5``
(``md5sum -c`` format) and ``<out>.manifest.json`` (for ``crawler verify-export``);
an export to standard output has no manifest, and says so on stderr.

Exit 0 on success; 2 for bad flags, a path that is not an archive, an empty
archive or an unknown snapshot; 1 for a damaged archive (the message names the
project and the blob), or standard output closed early (``| head``: crawler.output).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from crawler.archive.index import FINISHED_STATUSES
from crawler.config import Picker, add_archive_argument, archive_path_from, time_window
from crawler.errors import UsageError
from crawler.read.bag import DEFAULT_SOURCE, write_bag
from crawler.read.connector import ExportFilters
from crawler.read.export import ExportOptions, ExportResult, export_to_file, export_to_stdout
from crawler.read.reader import ArchiveReader


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_archive_argument(parser)
    parser.add_argument(
        "--snapshot", metavar="ID", help="snapshot to export (default: latest finished)"
    )
    out = parser.add_mutually_exclusive_group()
    out.add_argument(
        "--out", metavar="FILE", default="-", help="NDJSON file ('-': stdout; '.gz': gzipped)"
    )
    out.add_argument("--bag", type=Path, metavar="DIR", help="write a BagIt bag instead")
    parser.add_argument(
        "--files-dir",
        type=Path,
        metavar="DIR",
        help="copy file bodies here, named by sha256 (a bag always holds them)",
    )
    parser.add_argument(
        "--include-content",
        action="store_true",
        help="put each document's response (with its text) in attachments[].content",
    )
    parser.add_argument(
        "--include-receipts",
        action="store_true",
        help="put each project's retention receipts in retention_receipts (crawler retention)",
    )
    add_filter_arguments(parser)
    parser.add_argument(
        "--include-activity",
        action="store_true",
        help="add each project's activity feed events (who changed what, when) as activities",
    )
    parser.add_argument(
        "--source-organization",
        metavar="TEXT",
        default=DEFAULT_SOURCE,
        help="bag-info.txt Source-Organization (with --bag)",
    )


def add_filter_arguments(parser: argparse.ArgumentParser) -> None:
    """The selection flags export shares with ``crawler produce``."""
    parser.add_argument(
        "--org", action="append", metavar="ID", help="organisation: tagged id or UUID (repeatable)"
    )
    parser.add_argument(
        "--user", action="append", metavar="ID", help="creator: user id or email (repeatable)"
    )
    parser.add_argument("--since", metavar="TIME", help="created at or after TIME")
    parser.add_argument("--until", metavar="TIME", help="created before TIME (exclusive)")
    parser.add_argument("--updated-since", metavar="TIME", help="updated at or after TIME")
    parser.add_argument("--updated-until", metavar="TIME", help="updated before TIME (exclusive)")
    parser.add_argument(
        "--exclude-deleted",
        action="store_true",
        help="leave out projects deleted in claude.ai (deleted_at set); kept by default",
    )


def filters_from(args: argparse.Namespace) -> ExportFilters:
    flags = Picker(args, {})  # export's windows come from its flags alone
    since, until = time_window(flags, {}, "created")
    upd_since, upd_until = time_window(flags, {}, "updated")
    return ExportFilters(
        orgs=tuple(o.strip() for o in args.org or ()),
        users=tuple(u.strip() for u in args.user or ()),
        since=since,
        until=until,
        updated_since=upd_since,
        updated_until=upd_until,
        exclude_deleted=bool(args.exclude_deleted),
    )


def run(args: argparse.Namespace) -> int:
    filters = filters_from(args)
    if args.bag is not None and args.files_dir is not None:
        raise UsageError("--files-dir and --bag: a bag always holds the file bodies (data/files/)")
    options = ExportOptions(
        snapshot_id=args.snapshot,
        filters=filters,
        include_content=bool(args.include_content),
        include_receipts=bool(args.include_receipts),
        files_dir=args.files_dir,
        include_activity=bool(args.include_activity),
    )
    path = archive_path_from(args)
    with ArchiveReader.open(path) as reader:
        _warn_unfinished(reader, options.snapshot_id)
        if args.bag is not None:
            result = write_bag(
                reader, options, args.bag, source_organization=args.source_organization
            )
            _summary(result, f"bag {args.bag}")
        elif args.out == "-":
            # A reader that goes away (`| head`) ends this quietly: crawler.output.
            result = export_to_stdout(reader, options)
            print(
                "crawler: export written to stdout: no manifest or md5 file can describe a "
                "stream; use --out FILE to get them",
                file=sys.stderr,
            )
            _summary(result, "stdout")
        else:
            out = Path(args.out)
            if out.is_dir():
                raise UsageError(f"--out {out} is a directory; name a file")
            if not out.parent.is_dir():
                raise UsageError(f"--out {out}: the directory {out.parent} does not exist")
            result, manifest = export_to_file(reader, options, out)
            _summary(result, f"{out} (manifest {manifest})")
    return 0


def _warn_unfinished(reader: ArchiveReader, snapshot_id: str | None) -> None:
    snap = reader.snapshot(snapshot_id)
    if snap.status not in FINISHED_STATUSES:
        print(
            f"crawler: warning: snapshot {snap.id} is {snap.status}: projects not yet fetched "
            "are exported with details, attachments and collaborators null",
            file=sys.stderr,
        )
    elif snap.status == "partial":
        print(
            f"crawler: warning: snapshot {snap.id} is partial: some items failed "
            "(see _archive.failures and _archive.state in the records)",
            file=sys.stderr,
        )


def _summary(result: ExportResult, where: str) -> None:
    c = result.counts
    print(
        f"crawler: exported {c['projects']} projects ({c['gone']} gone, {c['deleted']} deleted, "
        f"{c['incomplete']} without a record) of snapshot {result.snapshot.id} to {where}; "
        f"{c['files_exported']} file bodies copied",
        file=sys.stderr,
    )

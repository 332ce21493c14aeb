"""``crawler verify --archive DIR [--full] [--snapshot ID]``: check an archive, offline.

Prints each problem and note on its own line, then a summary. Exit 0 when the
archive is sound, 1 on any problem, 2 when DIR is not an archive or the snapshot
is unknown. Never touches the network and never writes to the archive.
"""

from __future__ import annotations

import argparse
import os
import tomllib
from pathlib import Path

from crawler.archive import MARKER, Archive
from crawler.archive.index import SNAPSHOT_ID_RE
from crawler.errors import ArchiveError, UsageError
from crawler.verify import verify


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--archive", type=Path, metavar="DIR", help="archive directory")
    parser.add_argument(
        "--config", type=Path, metavar="FILE", help="TOML config file (its [archive] path)"
    )
    parser.add_argument(
        "--full", action="store_true", help="also rehash every blob (reads every byte)"
    )
    parser.add_argument("--snapshot", metavar="ID", help="check only this snapshot")


def archive_path(args: argparse.Namespace) -> Path:
    """--archive, then $CRAWLER_ARCHIVE, then ``[archive] path`` in --config."""
    if args.archive:
        return Path(args.archive)
    if os.environ.get("CRAWLER_ARCHIVE"):
        return Path(os.environ["CRAWLER_ARCHIVE"])
    if args.config:
        try:
            data = tomllib.loads(Path(args.config).read_text(encoding="utf-8"))
        except OSError as exc:
            raise UsageError(f"cannot read config file {args.config}: {exc.strerror}") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise UsageError(f"config file {args.config} is not valid TOML: {exc}") from None
        section = data.get("archive")
        path = section.get("path") if isinstance(section, dict) else None
        if isinstance(path, str) and path:
            return Path(path).expanduser()
    raise UsageError("no archive given: pass --archive DIR or set [archive] path in --config")


def run(args: argparse.Namespace) -> int:
    path = archive_path(args)
    # Not an archive at all is a usage error (2); a damaged one is a failed check (1).
    if not path.is_dir():
        raise UsageError(f"archive {path} does not exist or is not a directory")
    if not (path / MARKER).exists():
        raise UsageError(f"{path} is not a crawler archive (no {MARKER} marker)")
    if args.snapshot is not None and not SNAPSHOT_ID_RE.fullmatch(args.snapshot):
        raise UsageError(f"malformed snapshot id {args.snapshot!r}")
    try:
        archive = Archive.open_for_reading(path)
    except ArchiveError as exc:
        print(f"problem: archive: {path}: {exc}")
        print("verify: FAILED: the archive cannot be opened")
        return 1
    with archive:
        if args.snapshot is not None:
            try:
                archive.index.get_snapshot(args.snapshot)
            except ArchiveError as exc:
                raise UsageError(str(exc)) from None
        report = verify(archive, full=args.full, snapshot_id=args.snapshot)
    for problem in report.problems:
        print(f"problem: {problem}")
    for note in report.notes:
        print(f"note: {note}")
    print(report.summary())
    return 0 if report.ok else 1

"""``crawler verify --archive DIR [--full] [--snapshot ID]``: check an archive, offline.

Prints each problem and note on its own line, then a summary. Exit 0 when the
archive is sound, 1 on any problem, 2 when DIR is not an archive or the snapshot
is unknown. Never touches the network and never writes to the archive.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from crawler.archive import MARKER, Archive
from crawler.archive.index import SNAPSHOT_ID_RE
from crawler.archive.store.location import S3Location
from crawler.config import add_archive_argument, archive_path_from
from crawler.errors import ArchiveError, UsageError
from crawler.read.verify import verify
from crawler.seal.proof import trusted_key


def _saved(path: Path | None) -> tuple[str, str] | None:
    if path is None:
        return None
    try:
        return str(path), path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read the checkpoint {path}: {exc}") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_archive_argument(parser)
    parser.add_argument(
        "--full", action="store_true", help="also rehash every blob (reads every byte)"
    )
    parser.add_argument("--snapshot", metavar="ID", help="check only this snapshot")
    parser.add_argument(
        "--checkpoint",
        type=Path,
        metavar="FILE",
        help="a checkpoint kept earlier (crawler checkpoint): prove the log extends it",
    )
    parser.add_argument(
        "--public-key",
        metavar="VKEY|FILE",
        help="the key the seal must be signed with (default: the archive's own)",
    )


def run(args: argparse.Namespace) -> int:
    path = archive_path_from(args)
    # Not an archive at all is a usage error (2); a damaged one is a failed check (1).
    if isinstance(path, Path) and not path.is_dir():
        raise UsageError(f"archive {path} does not exist or is not a directory")
    if isinstance(path, Path) and not (path / MARKER).exists():
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
        policy = path.policy if isinstance(path, S3Location) else None
        report = verify(
            archive,
            full=args.full,
            snapshot_id=args.snapshot,
            policy=policy,
            trusted=trusted_key(args.public_key),
            saved=_saved(args.checkpoint),
        )
    for problem in report.problems:
        print(f"problem: {problem}")
    for note in report.notes:
        print(f"note: {note}")
    print(report.summary())
    return 0 if report.ok else 1

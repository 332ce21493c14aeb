"""``crawler produce``: a snapshot as a Bates-numbered production volume for a review platform.

    crawler produce --archive A --out DIR --prefix ACME [--snapshot ID] [--org ID]...
                    [--user ID]... [--since T] [--until T] [--updated-since T]
                    [--updated-until T] [--project ID]... [--exclude-deleted]
                    [--start N] [--volume NAME] [--digits 9] [--bag] [--by WHO]
    crawler produce --archive A --out DIR --reproduce ID [--bag] [--by WHO]

Offline: reads the archive (a directory or a bucket) through the read model and
writes only DIR, the archive's production register (``productions.sqlite``; in a
bucket also each row as an object under ``productions/``) and, in a sealed
archive, the production's leaf and checkpoint in ``log/`` (the signing key
from ``CRAWLER_SIGNING_KEY_FILE`` or ``--config``'s ``[archive]
signing_key_file``). Exit 0 when the production is written, registered and
logged; 2 for bad flags, a wrong signing key, a selection produced already,
numbers already used, or nothing to produce; 1 for a damaged archive.
"""

from __future__ import annotations

import argparse
import functools
import getpass
import socket
import sys
from pathlib import Path

from crawler.archive.store.location import ArchiveLocation
from crawler.commands.export import add_filter_arguments, filters_from
from crawler.config import add_archive_argument, archive_path_from
from crawler.errors import UsageError
from crawler.produce.register import Selection
from crawler.produce.run import Request, produce, reproduce
from crawler.read.reader import require_archive
from crawler.seal.keyfile import key_file_from_args, open_log_place
from crawler.seal.sealer import Sealer

_SELECTING = ("prefix", "snapshot", "org", "user", "since", "until", "updated_since",
              "updated_until", "project", "start", "volume")  # fmt: skip


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_archive_argument(parser)
    parser.add_argument("--out", type=Path, metavar="DIR", required=True,
                        help="the production directory (must not exist, or be empty)")  # fmt: skip
    parser.add_argument("--prefix", metavar="PREFIX", help="Bates prefix, e.g. ACME")
    parser.add_argument("--snapshot", metavar="ID", help="snapshot (default: latest finished)")
    add_filter_arguments(parser)
    parser.add_argument("--project", action="append", metavar="ID", help="project id (repeatable)")
    parser.add_argument("--start", type=int, metavar="N",
                        help="first number (default: after the prefix's last production)")  # fmt: skip
    parser.add_argument("--volume", metavar="NAME", help="volume name (default VOL<id>)")
    parser.add_argument("--digits", type=int, default=9, metavar="N",
                        help="digits of a Bates number (default 9)")  # fmt: skip
    parser.add_argument("--bag", action="store_true", help="write DIR as a BagIt bag")
    parser.add_argument("--reproduce", type=int, metavar="ID",
                        help="rewrite registered production ID byte for byte")  # fmt: skip
    parser.add_argument("--by", metavar="WHO", help="who produces (default: user@host)")


def _who(value: str | None) -> str:
    if value and value.strip():
        return value.strip()
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def run(args: argparse.Namespace) -> int:
    path = archive_path_from(args)
    require_archive(path)
    warn = functools.partial(print, "crawler: warning:", file=sys.stderr)
    with open_log_place(path) as place:  # a wrong key: refused before anything is written
        return _run(args, path, Sealer(place.root, key_file_from_args(args), warn, place.store))


def _run(args: argparse.Namespace, path: ArchiveLocation, sealer: Sealer) -> int:
    req = Request(archive=path, out=args.out, by=_who(args.by), sealer=sealer, bag=bool(args.bag))
    if args.reproduce is not None:
        given = [f"--{k.replace('_', '-')}" for k in _SELECTING if getattr(args, k, None)]
        if given or args.exclude_deleted or args.digits != 9:
            raise UsageError(
                f"--reproduce takes the selection and numbers from the register; drop {given}"
            )
        row, outcome = reproduce(req, args.reproduce)
        print(f"produce: production {row.id} rewritten in {args.out}: "
              f"{outcome.documents} documents, load file sha256 {row.load_file_sha256} "
              "(as registered)")  # fmt: skip
        return 0
    if not args.prefix:
        raise UsageError("produce needs --prefix (the Bates prefix, e.g. ACME)")
    selection = Selection(filters_from(args), tuple(p.strip() for p in args.project or ()))
    req = Request(
        archive=path, out=args.out, by=req.by, sealer=sealer, bag=req.bag, prefix=args.prefix,
        selection=selection, snapshot_id=args.snapshot, start=args.start,
        volume=args.volume, digits=args.digits,
    )  # fmt: skip
    row, outcome = produce(req)
    if outcome.snapshot_status != "complete":
        print(f"crawler: warning: snapshot {row.snapshot_id} is {outcome.snapshot_status}: a "
              "project without a record is a sheet alone, a failed item a record without a "
              "native (see NATIVESTATUS)", file=sys.stderr)  # fmt: skip
    first, last = (f"{row.prefix}{n:0{row.digits}d}" for n in (row.first_number, row.last_number))
    print(f"produce: production {row.id}: {first}-{last}, {outcome.families} families, "
          f"{outcome.documents} documents ({outcome.natives} natives, {outcome.texts} texts) "
          f"of snapshot {row.snapshot_id} in {args.out}/{row.volume}")  # fmt: skip
    return 0

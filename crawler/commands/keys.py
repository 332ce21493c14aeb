"""``crawler keys init --archive A --key-file PATH [--org ORG | --origin NAME]``: seal an archive.

``crawler keys show --archive A`` prints the archive's public key (``vkey``): what an
auditor should receive from the owner by a channel of their own, not read from the
archive they audit.

Makes an Ed25519 key pair: the private key to PATH (0600, refused inside the
archive; keep it where only the writers can read it), the public key and the
log's origin to ``log/key.json``; then logs the archive's history so far and
signs the first checkpoint. Writers find the key in ``CRAWLER_SIGNING_KEY_FILE``
or ``[archive] signing_key_file``. Prints the public key (``vkey``) for auditors.
"""

from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path

from crawler.archive.log import read_log_key
from crawler.config import add_archive_argument, archive_path_from
from crawler.errors import SealError, UsageError
from crawler.read.reader import require_archive
from crawler.seal.keyfile import LogPlace, default_origin, init_keys, open_log_place
from crawler.seal.sealer import Sealer


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    init = sub.add_parser("init", help="make the archive's signing key and start its log")
    add_archive_argument(init)
    init.add_argument(
        "--key-file", type=Path, required=True, metavar="PATH", help="where the private key goes"
    )
    init.add_argument("--org", metavar="ORG", help="the organisation, named in the log's origin")
    init.add_argument("--origin", metavar="NAME", help="the log's name (default: org + random id)")
    show = sub.add_parser("show", help="print the archive's public key (vkey) and origin")
    add_archive_argument(show)


def run(args: argparse.Namespace) -> int:
    location = archive_path_from(args)
    require_archive(location)
    with open_log_place(location) as place:
        if args.keys_command == "show":
            log_key = read_log_key(place.where)
            if log_key is None:
                raise UsageError(
                    f"{place.name} is not sealed (no log): run crawler keys init first"
                )
            print(log_key.verifier)
            return 0
        return _init(args, place)


def _init(args: argparse.Namespace, place: LogPlace) -> int:
    origin = args.origin or default_origin(args.org)
    if not origin.isprintable() or any(c.isspace() or c == "+" for c in origin):
        raise UsageError(f"--origin {origin!r}: a printable name without spaces or '+'")
    try:
        log_key = init_keys(place.root, args.key_file, origin, place.where)
    except SealError as exc:
        raise UsageError(str(exc)) from None
    warn = functools.partial(print, "crawler: warning:", file=sys.stderr)
    written = Sealer(place.root, args.key_file, warn, place.store).sync()
    print(f"keys: the archive {place.name} is sealed; origin {log_key.origin}")
    print(f"keys: private key {args.key_file} (0600): set CRAWLER_SIGNING_KEY_FILE for writers")
    print(f"keys: {written} events of its history logged and signed")
    print(f"public key (give it to auditors): {log_key.verifier}")
    return 0

"""``crawler checkpoint --archive A``: print the latest signed checkpoint of the archive's log.

An auditor keeps it anywhere (a ticket, an email, another system) and later runs
``crawler verify --checkpoint FILE`` to prove the archive only grew since.
Exit 2 for an archive that is not sealed or has no checkpoint yet.
"""

from __future__ import annotations

import argparse
import sys

from crawler.archive.log import Log
from crawler.config import add_archive_argument, archive_path_from
from crawler.errors import UsageError
from crawler.read.reader import require_archive
from crawler.seal.keyfile import open_log_place


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_archive_argument(parser)


def run(args: argparse.Namespace) -> int:
    location = archive_path_from(args)
    require_archive(location)
    with open_log_place(location) as place:
        log = Log.open(place.where)
        if log is None:
            raise UsageError(f"{place.name} is not sealed (no log): run crawler keys init first")
        latest = log.latest_checkpoint()
    if latest is None:
        raise UsageError(
            f"{place.name}'s log has no signed checkpoint yet: run a writer with the key"
        )
    sys.stdout.write(latest)
    return 0

"""``crawler checkpoint --archive A``: print the latest signed checkpoint of the archive's log.

An auditor keeps it anywhere (a ticket, an email, another system) and later runs
``crawler verify --checkpoint FILE`` to prove the archive only grew since.
Exit 2 for an archive that is not sealed or has no checkpoint yet.
"""

from __future__ import annotations

import argparse
import sys

from crawler.archive.log import Log
from crawler.config import add_archive_argument
from crawler.config_archive import local_archive_path
from crawler.errors import UsageError
from crawler.read.reader import require_archive


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_archive_argument(parser)


def run(args: argparse.Namespace) -> int:
    path = local_archive_path(args, "checkpoint")
    require_archive(path)
    log = Log.open(path)
    if log is None:
        raise UsageError(f"{path} is not sealed (no log): run crawler keys init first")
    latest = log.latest_checkpoint()
    if latest is None:
        raise UsageError(f"{path}'s log has no signed checkpoint yet: run a writer with the key")
    sys.stdout.write(latest)
    return 0

"""``crawler users --org UUID``: an organisation's users, to help fill in ``--user``."""

from __future__ import annotations

import argparse

from crawler import app, loop
from crawler.config import add_crawl_arguments, build_settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_crawl_arguments(parser)
    parser.add_argument(
        "--org", required=True, metavar="UUID", help="organisation UUID (see `crawler orgs`)"
    )


def run(args: argparse.Namespace) -> int:
    org = args.org
    args.org = None  # not a project filter here
    settings = build_settings(args)

    for user in loop.run(app.users(settings, org)):
        print(
            f"{user.get('id', '')}\t{user.get('email', '')}\t{user.get('full_name', '')}\t"
            f"{user.get('organization_role', '')}"
        )
    return 0

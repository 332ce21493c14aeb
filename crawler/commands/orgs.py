"""``crawler orgs``: the organisations the key can see, to help fill in ``--org``."""

from __future__ import annotations

import argparse

from crawler import app, loop
from crawler.config import add_crawl_arguments, build_settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_crawl_arguments(parser)


def run(args: argparse.Namespace) -> int:
    settings = build_settings(args)

    for org in loop.run(app.organizations(settings)):
        print(f"{org.get('uuid', '')}\t{org.get('name', '')}\t{org.get('created_at', '')}")
    return 0

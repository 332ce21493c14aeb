"""``crawler orgs``: the organisations the key can see, to help fill in ``--org``."""

from __future__ import annotations

import argparse

from crawler import loop
from crawler.api import ComplianceClient, list_organizations
from crawler.commands import client_config
from crawler.config import add_crawl_arguments, build_settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_crawl_arguments(parser)


def run(args: argparse.Namespace) -> int:
    settings = build_settings(args)

    async def main() -> int:
        async with ComplianceClient(client_config(settings)) as client:
            orgs = await list_organizations(client)
        for org in orgs:
            print(f"{org.get('uuid', '')}\t{org.get('name', '')}\t{org.get('created_at', '')}")
        return 0

    return loop.run(main())

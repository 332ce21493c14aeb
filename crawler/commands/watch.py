"""``crawler watch``: keep the archive current, a cycle every --every (README, "Watching")."""

from __future__ import annotations

import argparse
from pathlib import Path

from crawler import loop
from crawler.config import DEFAULT_CONCURRENCY, add_crawl_arguments, build_settings
from crawler.config_sources import load_toml
from crawler.watch.loop import Watch
from crawler.watch.options import watch_options


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_crawl_arguments(parser)
    parser.add_argument(
        "--org", action="append", metavar="ID", help="only this organisation; repeatable"
    )
    parser.add_argument(
        "--user", action="append", metavar="ID", help="only this creator; repeatable"
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        metavar="N",
        help=f"projects fetched at once (default {DEFAULT_CONCURRENCY})",
    )
    parser.add_argument(
        "--files",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="download file bodies (default on)",
    )
    parser.add_argument(
        "--every", metavar="DURATION", help="a cycle this often (default 5m; [watch] every)"
    )
    parser.add_argument(
        "--full-every",
        metavar="DURATION",
        help="a whole list walk this often (default 24h): sees projects removed without an event",
    )
    parser.add_argument(
        "--lock-wait",
        metavar="DURATION",
        help="wait this long for another writer's lock, then exit 75 (default 10m)",
    )
    parser.add_argument(
        "--verify-slice",
        metavar="SHARE",
        help="re-hash this share of the blobs each cycle, oldest-checked first (default 1%%)",
    )
    parser.add_argument(
        "--metrics",
        metavar="HOST:PORT",
        help="serve /metrics, /healthz, /readyz here (e.g. 127.0.0.1:9464)",
    )
    parser.add_argument(
        "--metrics-file",
        metavar="FILE",
        help="also write the metrics here after each cycle (textfile collector)",
    )
    parser.add_argument(
        "--ping-url",
        metavar="URL",
        help="healthchecks.io-style check: /start, success, /fail per cycle",
    )
    parser.add_argument(
        "--cycles", type=int, metavar="N", help=argparse.SUPPRESS
    )  # tests, benchmarks


def run(args: argparse.Namespace) -> int:
    settings = build_settings(args)  # every usage error surfaces here, before anything is written
    toml = load_toml(Path(args.config)).get("watch", {}) if args.config else {}
    opts = watch_options(args, toml)
    return loop.run(Watch(settings, opts).run())

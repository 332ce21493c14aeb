"""``crawler archive``: take (or continue) a snapshot of every project the key can see."""

from __future__ import annotations

import argparse
from pathlib import Path

from crawler import app, loop
from crawler.config import DEFAULT_CONCURRENCY, add_crawl_arguments, build_settings
from crawler.watch.oneshot import run_once
from crawler.watch.options import DEFAULT_LOCK_WAIT, check_ping_url, parse_duration


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_crawl_arguments(parser)
    parser.add_argument(
        "--concurrency",
        type=int,
        metavar="N",
        help=f"projects fetched at once (default {DEFAULT_CONCURRENCY})",
    )
    _add_filter_arguments(parser)
    _add_mode_arguments(parser)


def _add_filter_arguments(parser: argparse.ArgumentParser) -> None:
    """Which projects: the project list's own filters."""
    parser.add_argument(
        "--org",
        action="append",
        metavar="ID",
        help="only this organisation (tagged id or UUID); repeatable",
    )
    parser.add_argument(
        "--user",
        action="append",
        metavar="ID",
        help="only projects created by this user id; repeatable",
    )
    parser.add_argument(
        "--since",
        metavar="TIME",
        help="created at or after TIME (RFC 3339 or YYYY-MM-DD), inclusive",
    )
    parser.add_argument("--until", metavar="TIME", help="created before TIME, exclusive")
    parser.add_argument(
        "--updated-since",
        metavar="TIME",
        help="updated at or after TIME (the list's updated_at), inclusive",
    )
    parser.add_argument("--updated-until", metavar="TIME", help="updated before TIME, exclusive")


def _add_mode_arguments(parser: argparse.ArgumentParser) -> None:
    """What to fetch, and how a snapshot relates to the last one."""
    parser.add_argument(
        "--files",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="download file bodies (default on)",
    )
    parser.add_argument(
        "--document-metadata",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also fetch each document's metadata and check the text against its md5 (one more request per document)",
    )
    parser.add_argument(
        "--incremental",
        action="store_true",
        default=None,
        help="carry projects unchanged since the last snapshot (list entry, and the activity "
        "feed when the key has read:compliance_activities)",
    )
    parser.add_argument(
        "--refresh-collaborators",
        action="store_true",
        default=None,
        help="with --incremental, refetch every project (covers collaborator changes)",
    )
    parser.add_argument(
        "--require-feed",
        action="store_true",
        default=None,
        help="fail (exit 2, nothing written) if the key cannot read the activity feed "
        "(scope read:compliance_activities)",
    )
    parser.add_argument(
        "--lock-wait",
        metavar="DURATION",
        help="wait this long for another writer's lock, then exit 75 (default 10m)",
    )
    parser.add_argument(
        "--metrics-file",
        metavar="FILE",
        help="write the run's Prometheus metrics here at its end (textfile collector, .prom)",
    )
    parser.add_argument(
        "--ping-url",
        metavar="URL",
        help="healthchecks.io-style check: URL/start, then URL or URL/fail with the summary",
    )
    parser.add_argument(
        "--restart",
        action="store_true",
        help="abandon the unfinished snapshot with these filters and start afresh",
    )


def run(args: argparse.Namespace) -> int:
    settings = build_settings(args)  # every usage error surfaces here, before anything is written
    wait = parse_duration(args.lock_wait or DEFAULT_LOCK_WAIT, "--lock-wait")
    if args.metrics_file or args.ping_url:
        metrics = Path(args.metrics_file) if args.metrics_file else None
        once = run_once(
            settings, lock_wait=wait, metrics_file=metrics, ping_url=check_ping_url(args.ping_url)
        )
        return loop.run(once)
    return loop.run(app.run_archive(settings, lock_wait=wait))

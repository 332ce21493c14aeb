"""``crawler serve``: browse an archive in a web browser (read-only).

Bound to 127.0.0.1 by default. Any other address exposes the archive to the
network, so it needs ``--bind ADDRESS`` and a token (``--token``, or the
``CRAWLER_SERVE_TOKEN`` environment variable, which keeps it out of ``ps``);
the banner then prints a one-time URL that sets a session cookie, and scripts
send ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys

from aiohttp import web

from crawler.config import add_archive_argument, archive_path_from
from crawler.errors import UsageError
from crawler.read.web.app import make_app

TOKEN_ENV = "CRAWLER_SERVE_TOKEN"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_archive_argument(parser)
    parser.add_argument("--port", type=int, default=8765, help="TCP port (default 8765)")
    parser.add_argument(
        "--bind", default="127.0.0.1", metavar="ADDRESS", help="listen address (needs --token)"
    )
    parser.add_argument("--token", help=f"access token (or set {TOKEN_ENV})")


def is_loopback(address: str) -> bool:
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def run(args: argparse.Namespace) -> int:
    token = args.token or os.environ.get(TOKEN_ENV) or None
    loopback = is_loopback(args.bind)
    if not loopback and not token:
        raise UsageError(
            f"serve: --bind {args.bind} exposes the archive beyond this machine; "
            f"it needs --token (or {TOKEN_ENV}), so that only you can read it"
        )
    if token is not None and len(token) < 16:
        raise UsageError("serve: the token must be at least 16 characters")
    if not 0 < args.port < 65536:
        raise UsageError(f"serve: --port {args.port} is not a TCP port")
    app = make_app(archive_path_from(args), token=token, loopback=loopback)
    host = f"[{args.bind}]" if ":" in args.bind else args.bind
    url = f"http://{host}:{args.port}/"
    print(f"crawler desk (read-only) on {url}", file=sys.stderr)
    if token:
        print(
            f"open once: {url}?token=<your token>  (scripts: Authorization: Bearer)",
            file=sys.stderr,
        )
    if not loopback:
        print(f"warning: listening on {args.bind}, beyond this machine", file=sys.stderr)
    web.run_app(app, host=args.bind, port=args.port, print=None, access_log=None)
    return 0

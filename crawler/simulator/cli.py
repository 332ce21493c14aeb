"""``crawler simulate``: run the simulator until SIGINT/SIGTERM.

On start it prints machine-readable lines on stdout (flushed), for scripts and
subprocess tests::

    base_url=http://127.0.0.1:54321
    key=sk-ant-api01-...
    projects=250
    delete_key=sk-ant-api01-...

(``key`` reads; ``delete_key`` holds only ``delete:compliance_user_data``;
``delete_key=`` is empty with ``--no-delete-key``)

and ``mutated={...json...}`` each time a scheduled mutation is applied.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import signal
import sys

from crawler.simulator.activity import DEFAULT_FEED_LAG
from crawler.simulator.auth import (
    DEFAULT_DELETE_KEY,
    DEFAULT_KEY,
    DELETE_SCOPES,
    NO_FEED_SCOPES,
    READ_SCOPES,
)
from crawler.simulator.dataset import DatasetSpec
from crawler.simulator.faults import EndpointFaults, FaultPlan
from crawler.simulator.server import Simulator, SimulatorConfig


def _range_int(text: str) -> tuple[int, int]:
    lo, sep, hi = text.partition("-")
    try:
        a = int(lo)
        b = int(hi) if sep else a
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected N or A-B, got {text!r}") from exc
    if a < 0 or b < a:
        raise argparse.ArgumentTypeError(f"bad range {text!r}")
    return a, b


def _float(text: str) -> float:
    try:
        value = float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from exc
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def _positive_float(text: str) -> float:
    value = _float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text!r}")
    return value


def _non_negative_float(text: str) -> float:
    value = _float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text!r}")
    return value


def _range_float(text: str) -> tuple[float, float]:
    lo, sep, hi = text.partition("-")
    try:
        a = float(lo)
        b = float(hi) if sep else a
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected S or A-B seconds, got {text!r}") from exc
    if a < 0 or b < a:
        raise argparse.ArgumentTypeError(f"bad range {text!r}")
    return a, b


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = DatasetSpec()
    net = parser.add_argument_group("server")
    net.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default %(default)s)"
    )
    net.add_argument("--port", type=int, default=0, help="port; 0 picks a free one (default 0)")
    net.add_argument(
        "--key",
        default=None,
        help="the read key: read:compliance_user_data, read:compliance_org_data and "
        "read:compliance_activities, never the delete scope (default: a fixed simulator "
        "key, printed)",
    )
    net.add_argument(
        "--read-only-key",
        default=None,
        help="also accept this key with the read scopes only (DELETE answers 403)",
    )
    net.add_argument(
        "--delete-key",
        default=None,
        help="the separate key holding only delete:compliance_user_data (default: a fixed "
        "simulator key, printed as delete_key=)",
    )
    net.add_argument(
        "--no-delete-key",
        action="store_true",
        help="accept no key with the delete scope (every DELETE answers 403)",
    )
    net.add_argument(
        "--no-feed-scope",
        action="store_true",
        help="the read key lacks read:compliance_activities (the Activity Feed answers 403)",
    )
    net.add_argument(
        "--feed-lag",
        type=float,
        default=DEFAULT_FEED_LAG,
        metavar="SECONDS",
        help="each Activity Feed event becomes visible up to this long after it happens "
        "(seeded per event; default %(default)s)",
    )
    net.add_argument(
        "--rate",
        type=float,
        default=4.0,
        help="requests allowed per sliding window; 0 disables the limit (default %(default)s)",
    )
    net.add_argument(
        "--window",
        type=_positive_float,
        default=1.0,
        help="the sliding window in seconds; --rate 600 --window 60 is the live service"
        " (default %(default)s)",
    )
    net.add_argument(
        "--background-rps",
        type=_non_negative_float,
        default=0.0,
        metavar="R",
        help="another consumer spending the same budget at R requests/s (default 0)",
    )
    net.add_argument(
        "--token-ttl",
        type=float,
        default=600.0,
        help="seconds a page token stays valid (default %(default)s)",
    )

    data = parser.add_argument_group("dataset (same flags and seed: same data)")
    data.add_argument("--seed", type=int, default=d.seed, help="dataset seed (default %(default)s)")
    data.add_argument("--projects", type=int, default=d.projects, help="number of projects")
    data.add_argument("--orgs", type=int, default=d.orgs, help="number of organisations")
    data.add_argument("--users-per-org", type=int, default=d.users_per_org, help="users per org")
    data.add_argument(
        "--attachments",
        type=_range_int,
        default=d.attachments_per_project,
        metavar="A-B",
        help="attachments per ordinary project (default 0-4)",
    )
    data.add_argument(
        "--collaborators",
        type=_range_int,
        default=d.collaborators_per_project,
        metavar="A-B",
        help="collaborators per ordinary project (default 0-3)",
    )
    data.add_argument(
        "--document-bytes", type=int, default=d.document_bytes, help="max size of a document"
    )
    data.add_argument(
        "--big-document-bytes",
        type=int,
        default=d.big_document_bytes,
        help="size of the one big multi-byte UTF-8 document",
    )
    data.add_argument(
        "--file-size-max", type=int, default=d.file_size_max, help="max size of an ordinary file"
    )
    data.add_argument(
        "--big-file-bytes", type=int, default=d.big_file_bytes, help="size of the one big file"
    )
    data.add_argument(
        "--many-attachments",
        type=int,
        default=d.many_attachments,
        help="attachments on the crowded project",
    )
    data.add_argument(
        "--many-collaborators",
        type=int,
        default=d.many_collaborators,
        help="collaborators on the crowded project",
    )
    data.add_argument(
        "--short-page-rate", type=float, default=d.short_page_rate, help="share of short pages"
    )
    data.add_argument(
        "--empty-page-rate",
        type=float,
        default=d.empty_page_rate,
        help="share of empty pages that still carry next_page",
    )
    data.add_argument(
        "--no-edge-cases", action="store_true", help="do not plant the crawler-breaking cases"
    )

    f = parser.add_argument_group("faults (every endpoint; seeded)")
    f.add_argument("--fault-seed", type=int, default=0, help="seed of fault decisions")
    f.add_argument(
        "--latency", type=_range_float, default=None, metavar="A-B", help="added latency, seconds"
    )
    f.add_argument("--error-rate", type=float, default=0.0, help="share of 500/502/503/529")
    f.add_argument("--reset-rate", type=float, default=0.0, help="share of connection resets")
    f.add_argument("--truncate-rate", type=float, default=0.0, help="share of truncated bodies")
    f.add_argument(
        "--malformed-rate", type=float, default=0.0, help="share of 200s with malformed JSON"
    )
    f.add_argument(
        "--chunk-delay", type=float, default=0.0, help="seconds between body chunks (slow bodies)"
    )
    f.add_argument(
        "--bad-md5-rate",
        type=float,
        default=0.0,
        help="share of file bodies with wrong Content-MD5",
    )
    f.add_argument(
        "--expire-token-rate",
        type=float,
        default=0.0,
        help="share of page tokens treated as expired",
    )
    f.add_argument(
        "--fail-first", type=int, default=0, help="first N attempts of every URL answer a 5xx"
    )
    f.add_argument(
        "--max-faults-per-url",
        type=int,
        default=2,
        help="cap on random faults one URL sees; -1 for no cap (default %(default)s)",
    )
    f.add_argument(
        "--always-500",
        action="append",
        default=[],
        metavar="ID",
        help="this id always answers 500 with x-should-retry: false (repeatable)",
    )

    m = parser.add_argument_group("mutations")
    m.add_argument(
        "--mutate-after",
        type=float,
        default=None,
        metavar="SECONDS",
        help="apply a seeded change set this long after start",
    )
    m.add_argument(
        "--mutate-every",
        type=float,
        default=None,
        metavar="SECONDS",
        help="then apply another every SECONDS",
    )
    m.add_argument("--mutate-fraction", type=float, default=0.01, help="share of projects changed")
    m.add_argument("--mutate-seed", type=int, default=1, help="seed of the first change set")
    m.add_argument(
        "--mutate-kinds",
        default=None,
        metavar="all|K1,K2",
        help="kinds of change per set: 'all', or a comma list of hard_delete, soft_delete, "
        "rename, attach, detach, replace, grant, revoke, create, edit, share "
        "(default: all)",
    )
    m.add_argument(
        "--mutate-bulk",
        type=int,
        default=0,
        metavar="N",
        help="also bulk-delete the documents or files of N projects per change set, "
        "reported by ..._bulk_deletion_audit_truncated events",
    )
    m.add_argument(
        "--mutate-noise",
        type=int,
        default=0,
        metavar="N",
        help="also record N read events (claude_project_viewed...) per change set",
    )


def config_from_args(args: argparse.Namespace) -> SimulatorConfig:
    spec = DatasetSpec(
        seed=args.seed,
        orgs=args.orgs,
        users_per_org=args.users_per_org,
        projects=args.projects,
        attachments_per_project=tuple(args.attachments),
        collaborators_per_project=tuple(args.collaborators),
        document_bytes=args.document_bytes,
        big_document_bytes=args.big_document_bytes,
        file_size_max=args.file_size_max,
        big_file_bytes=args.big_file_bytes,
        many_attachments=args.many_attachments,
        many_collaborators=args.many_collaborators,
        edge_cases=not args.no_edge_cases,
        short_page_rate=args.short_page_rate,
        empty_page_rate=args.empty_page_rate,
    )
    faults = FaultPlan(
        seed=args.fault_seed,
        default=EndpointFaults(
            latency=args.latency,
            error_rate=args.error_rate,
            reset_rate=args.reset_rate,
            truncate_rate=args.truncate_rate,
            malformed_rate=args.malformed_rate,
            chunk_delay=args.chunk_delay,
            bad_content_md5_rate=args.bad_md5_rate,
            expire_token_rate=args.expire_token_rate,
            fail_first=args.fail_first,
        ),
        always_500_ids=set(args.always_500),
        max_faults_per_url=None if args.max_faults_per_url < 0 else args.max_faults_per_url,
    )
    keys = {args.key or DEFAULT_KEY: NO_FEED_SCOPES if args.no_feed_scope else READ_SCOPES}
    if args.read_only_key:
        keys[args.read_only_key] = READ_SCOPES
    if not args.no_delete_key:
        keys[args.delete_key or DEFAULT_DELETE_KEY] = DELETE_SCOPES
    return SimulatorConfig(
        dataset=spec,
        rate=args.rate or None,
        window=args.window,
        background_rps=args.background_rps,
        keys=keys,
        faults=faults,
        token_ttl=args.token_ttl,
        host=args.host,
        port=args.port,
        feed_lag=args.feed_lag,
    )


def _emit(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def serve(args: argparse.Namespace) -> int:
    sim = Simulator(config_from_args(args))
    await sim.start()
    _emit(f"base_url={sim.base_url}")
    _emit(f"key={sim.key}")
    _emit(f"projects={len(sim.dataset.projects)}")
    _emit(f"delete_key={sim.delete_key or ''}")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)

    async def mutator() -> None:
        if args.mutate_after is None:
            return
        await asyncio.sleep(args.mutate_after)
        seed = args.mutate_seed
        while True:
            changes = sim.mutate(
                seed=seed,
                fraction=args.mutate_fraction,
                kinds=args.mutate_kinds,
                bulk=args.mutate_bulk,
                noise=args.mutate_noise,
            )
            _emit("mutated=" + json.dumps(changes.as_dict(), sort_keys=True))
            if args.mutate_every is None:
                return
            seed += 1
            await asyncio.sleep(args.mutate_every)

    task = asyncio.create_task(mutator())
    try:
        await stop.wait()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await sim.stop()
    return 0


def run(args: argparse.Namespace) -> int:
    return asyncio.run(serve(args))

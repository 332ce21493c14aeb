"""``crawler archive``: take (or continue) a snapshot of every project the key can see."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shlex
import signal
import sys

from crawler import loop
from crawler.api.client import ComplianceClient
from crawler.archive import Archive
from crawler.commands import client_config
from crawler.config import Settings, add_crawl_arguments, build_settings
from crawler.pipeline import Crawl, RunResult
from crawler.progress import Progress, summary
from crawler.read.indexer import update_after_snapshot

EXIT_OK, EXIT_PARTIAL, EXIT_INTERRUPTED = 0, 1, 130


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_crawl_arguments(parser)
    parser.add_argument(
        "--concurrency", type=int, metavar="N", help="projects fetched at once (default 16)"
    )
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
        help="carry projects whose list entry is unchanged since the last snapshot",
    )
    parser.add_argument(
        "--refresh-collaborators",
        action="store_true",
        default=None,
        help="with --incremental, refetch every project (covers collaborator changes)",
    )
    parser.add_argument(
        "--restart",
        action="store_true",
        help="abandon the unfinished snapshot with these filters and start afresh",
    )


def run(args: argparse.Namespace) -> int:
    settings = build_settings(args)  # every usage error surfaces here, before anything is written
    return loop.run(_archive(settings))


async def _archive(settings: Settings) -> int:
    archive = Archive.open_for_writing(settings.archive)
    try:
        async with ComplianceClient(client_config(settings)) as client:
            progress = Progress.for_terminal(
                client.stats.snapshot, quiet=settings.quiet, log_format=settings.log_format
            )
            crawl = Crawl(settings, client, archive, progress)
            main = asyncio.current_task()
            signals = _StopOnSignal(crawl, progress, main)
            ticker = asyncio.create_task(progress.run())
            try:
                result = await crawl.run()
                if result.manifest is not None:  # a finished snapshot: make it searchable
                    update_after_snapshot(archive, _warn)
            except asyncio.CancelledError:
                # The second interrupt: everything written so far is whole (atomic writes).
                result = RunResult(crawl.snapshot_id or "?", "interrupted", None, True)
            finally:
                signals.remove()
                ticker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await ticker
            return _report(result, settings)
    finally:
        archive.close()


def _warn(message: str) -> None:
    print(f"crawler: warning: {message}", file=sys.stderr)


def _report(result: RunResult, settings: Settings) -> int:
    if result.status == "interrupted" or result.manifest is None:
        print(
            f"crawler: interrupted; snapshot {result.snapshot_id} is saved and resumable. "
            f"Resume with: {resume_command()}",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    print(summary(result.manifest, str(settings.archive)))
    return EXIT_OK if result.status == "complete" else EXIT_PARTIAL


def resume_command() -> str:
    argv = [a for a in sys.argv[1:] if a != "--restart"]
    return "crawler " + shlex.join(argv)


class _StopOnSignal:
    """First SIGINT/SIGTERM: stop cleanly. Second: stop at once (the archive stays consistent)."""

    def __init__(self, crawl: Crawl, progress: Progress, main: asyncio.Task[object] | None) -> None:
        self.crawl, self.progress, self.main = crawl, progress, main
        self.loop = asyncio.get_running_loop()
        self.installed: list[int] = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                self.loop.add_signal_handler(sig, self._on_signal)
                self.installed.append(sig)

    def _on_signal(self) -> None:
        if not self.crawl.stopping:
            self.progress.log(
                "stopping",
                "stopping: finishing in-flight requests (interrupt again to stop at once)",
            )
            self.crawl.request_stop()
        elif self.main is not None:
            self.main.cancel()

    def remove(self) -> None:
        for sig in self.installed:
            self.loop.remove_signal_handler(sig)

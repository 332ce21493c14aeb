"""The composition root: the calls the CLI, the tests and the benchmarks make.

Each wires the parts together for one job and nothing else does::

    run_archive(settings)        -> exit code: a snapshot taken (or continued), summary printed
    archive(settings)            -> RunResult: the same, without the report
    organizations(settings)      -> the organisations the key can see
    users(settings, org_uuid)    -> one organisation's users
    reach(settings)              -> before the first request: UnreachableError in seconds
    retention_plan(settings, selection)               -> a plan (never deletes)
    retention_apply(settings, delete_key, plan, ...)  -> ApplyResult: deletes, receipts
    client_config(settings)      -> ClientConfig for the one client of a run

Commands parse flags into ``Settings`` (:mod:`crawler.config`), make one call
here, and turn its result into an exit code. The offline commands read through
the read model instead (``ArchiveReader.open(path)``, :mod:`crawler.read.reader`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import shlex
import signal
import sys
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from crawler.api import ClientConfig, ComplianceApi, ComplianceClient
from crawler.api.reach import check_reachable
from crawler.api.retry import DeletePolicy
from crawler.archive import Archive
from crawler.config import Settings
from crawler.crawl import Crawl, RunResult
from crawler.progress import Progress
from crawler.read.indexer import update_after_snapshot
from crawler.read.reader import ArchiveReader
from crawler.retention.apply import Applier, ApplyResult
from crawler.retention.bucket import open_retention, open_retention_reader
from crawler.retention.planner import make_plan
from crawler.retention.select import Selection
from crawler.seal.sealer import SealedStore, Sealer
from crawler.summary import summary
from crawler.watch.lockwait import open_when_free

__all__ = [
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_PARTIAL",
    "archive",
    "client_config",
    "organizations",
    "reach",
    "retention_apply",
    "retention_plan",
    "run_archive",
    "users",
]

EXIT_OK, EXIT_PARTIAL, EXIT_INTERRUPTED = 0, 1, 130


def _noop(_result: RunResult) -> None:
    return None


def client_config(settings: Settings) -> ClientConfig:
    return ClientConfig(
        base_url=settings.base_url,
        api_key=settings.api_key,
        rate=settings.rate,
        rate_auto=settings.rate_auto,
        rate_reserve=settings.rate_reserve,
        max_attempts=settings.max_attempts,
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
        max_json_bytes=settings.max_json_bytes,
        backoff_base=settings.backoff_base,
        backoff_cap=settings.backoff_cap,
    )


async def run_archive(
    settings: Settings, *, lock_wait: float = 0.0, on_result: Callable[[RunResult], None] = _noop
) -> int:
    """``crawler archive``: take or continue a snapshot, print the summary; the exit code.

    ``lock_wait``: seconds to wait for another writer's lock (then LockWaitError, exit 75);
    ``on_result``: sees the result first (``--metrics-file``)."""
    result = await archive(settings, lock_wait=lock_wait)
    on_result(result)
    return report(result, settings)


async def archive(settings: Settings, *, lock_wait: float = 0.0) -> RunResult:
    """Take or continue a snapshot. SIGINT/SIGTERM: stop cleanly; a second one: at once."""
    await reach(settings)  # a wrong address is said in seconds, before anything is written
    arc = await open_when_free(settings.archive, lock_wait, on_wait=_warn)
    try:
        sealer = Sealer(arc.path, settings.signing_key_file, _warn, arc.store)
        sealer.sync(arc.index)  # what a killed run finished but did not log, before anything new
        async with ComplianceClient(client_config(settings)) as client:
            limiter = client.limiter
            progress = Progress.for_terminal(
                client.stats.snapshot,
                quiet=settings.quiet,
                log_format=settings.log_format,
                rate=lambda: limiter.ceiling or 0.0,
            )
            crawl = Crawl(settings, client, arc, progress)
            signals = _StopOnSignal(crawl, progress, asyncio.current_task())
            ticker = asyncio.create_task(progress.run())
            try:
                result = await crawl.run()
                result.pace = progress.pace()
                if result.manifest is not None:
                    sealer.sync(arc.index)  # its leaf and checkpoint, before it is reported
                if result.manifest is not None:  # the last step: make the snapshot searchable
                    progress.log("search_index", "updating the search index")
                    update_after_snapshot(arc, _warn)
                return result
            except asyncio.CancelledError:
                # The second interrupt: everything written so far is whole (atomic writes).
                return RunResult(crawl.snapshot_id or "?", "interrupted", None, True)
            finally:
                signals.remove()
                ticker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await ticker
    finally:
        arc.close()


def _warn(message: str) -> None:
    print(f"crawler: warning: {message}", file=sys.stderr)


def report(result: RunResult, settings: Settings) -> int:
    """The summary (stdout) or the resume hint (stderr), and the exit code."""
    if result.status == "interrupted" or result.manifest is None:
        print(
            f"crawler: interrupted; snapshot {result.snapshot_id} is saved and resumable. "
            f"Resume with: {resume_command()}",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    print(summary(result.manifest, str(settings.archive), pace=result.pace or None))
    return EXIT_OK if result.status == "complete" else EXIT_PARTIAL


def resume_command() -> str:
    argv = [a for a in sys.argv[1:] if a != "--restart"]
    return "crawler " + shlex.join(argv)


async def reach(settings: Settings) -> None:
    """Before a command's first request: UnreachableError (exit 2) in seconds for a wrong address."""
    await check_reachable(settings.base_url, connect_timeout=settings.connect_timeout)


async def organizations(settings: Settings) -> list[dict[str, Any]]:
    await reach(settings)
    async with ComplianceClient(client_config(settings)) as client:
        return await ComplianceApi(client).organizations()


async def users(settings: Settings, org_uuid: str) -> list[dict[str, Any]]:
    await reach(settings)
    async with ComplianceClient(client_config(settings)) as client:
        return await ComplianceApi(client).users(org_uuid)


async def retention_plan(settings: Settings, selection: Selection) -> dict[str, Any]:
    """``crawler retention plan``: decide, with the read key; never deletes."""
    await reach(settings)
    with (
        ArchiveReader.open(settings.archive) as reader,
        open_retention_reader(reader.archive) as store,
    ):
        async with ComplianceClient(client_config(settings)) as client:
            return await make_plan(
                selection,
                reader=reader,
                store=store,
                api=ComplianceApi(client),
                now=datetime.now(UTC),
                concurrency=settings.concurrency,
            )


async def retention_apply(
    settings: Settings, delete_key: str, plan: dict[str, Any], plan_bytes: bytes, max_deletes: int
) -> ApplyResult:
    """``crawler retention apply``: two clients, two keys, one limiter; receipts in the archive."""
    await reach(settings)  # before the archive is opened for writing
    archive = Archive.open_for_writing(settings.archive)
    try:
        sealer = Sealer(archive.path, settings.signing_key_file, _warn, archive.store)
        sealed = functools.partial(SealedStore.open_sealed, sealer=sealer, index=archive.index)
        with open_retention(archive, sealed) as store:
            sealer.sync(archive.index, store)
            async with ComplianceClient(client_config(settings)) as reader:
                config = replace(reader.config, api_key=delete_key)
                policy = DeletePolicy(config.max_attempts, config.backoff_base, config.backoff_cap)
                async with ComplianceClient(config, policy=policy, limiter=reader.limiter) as d:
                    apis = ComplianceApi(reader), ComplianceApi(d)
                    applier = Applier(plan, plan_bytes, archive, store, *apis, max_deletes)
                    return await applier.run()
    finally:
        archive.close()


class _StopOnSignal:
    """First SIGINT/SIGTERM: stop cleanly. Second: stop at once (the archive stays consistent)."""

    def __init__(self, crawl: Crawl, progress: Progress, main: asyncio.Task[Any] | None) -> None:
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

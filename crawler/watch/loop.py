"""``crawler watch``'s schedule: a cycle every ``--every``, a full walk every ``--full-every``.

Cycles start on a fixed rate (a cycle longer than the interval is followed at
once by the next). A failed cycle is retried after a backoff that doubles from
``backoff`` up to ``every``; an error a person must fix (a bad key, a missing
scope, a lock held past ``--lock-wait``) ends the watch with its exit code.

SIGTERM or SIGINT: the running cycle stops cleanly (its snapshot is consistent and
resumable, as ``crawler archive``'s), then the watch exits 0; between cycles it
exits at once. A second signal cancels at once (every write is atomic). Killed
with SIGKILL, the next start resumes the unfinished snapshot, its feed window
included: no gap in the feed.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from collections.abc import Callable
from typing import Any

from crawler.archive import Archive
from crawler.canonical import parse_instant
from crawler.config import Settings
from crawler.crawl import Crawl
from crawler.errors import ArchiveError, AuthError, LockWaitError, ScopeError, UsageError
from crawler.watch.cycle import CycleReport, cycle_settings, run_cycle
from crawler.watch.listener import Health, MetricsListener
from crawler.watch.metrics import WatchMetrics, write_textfile
from crawler.watch.options import WatchOptions
from crawler.watch.ping import Pinger

__all__ = ["Watch"]

# Errors no retry can fix: the watch ends, with the error's exit code.
_FATAL = (AuthError, ScopeError, UsageError, LockWaitError)


def _say(message: str) -> None:
    print(f"crawler watch: {message}", file=sys.stderr, flush=True)


class Watch:
    def __init__(
        self,
        settings: Settings,
        opts: WatchOptions,
        *,
        say: Callable[[str], None] = _say,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = cycle_settings(settings)
        self.opts = opts
        self.say = say
        self.clock = clock
        self.metrics = WatchMetrics(opts.every, opts.full_every)
        self.health = Health(opts.every, clock=clock)
        self.pinger = Pinger(opts.ping_url, say)
        self.listener: MetricsListener | None = None
        self.reports: list[CycleReport] = []  # the last few, newest last (tests, the log)
        self.listening = asyncio.Event()  # set once /metrics answers
        self._stop = asyncio.Event()
        self._crawl: Crawl | None = None
        self._last_full: float | None = None
        self._warned: set[str] = set()

    def request_stop(self) -> None:
        self._stop.set()
        if self._crawl is not None:
            self._crawl.request_stop()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    async def run(self) -> int:
        signals = _Signals(self, asyncio.current_task())
        try:
            if self.opts.metrics is not None:
                self.listener = MetricsListener(self.metrics, self.health, *self.opts.metrics)
                try:
                    await self.listener.start()
                except OSError as exc:
                    host, port = self.opts.metrics
                    self.listener = None
                    raise UsageError(
                        f"--metrics {host}:{port}: cannot listen: {exc.strerror}"
                    ) from None
                self.say(f"metrics on {self.listener.url}/metrics")
            self.listening.set()
            self._last_full = self._find_last_full()
            await self._loop()
            return 0
        finally:
            signals.remove()
            if self.listener is not None:
                await self.listener.stop()

    async def _loop(self) -> None:
        failures = done = 0
        while not self.stopping:
            started = self.clock()
            report = await self._cycle(self._kind(started))
            done += 1
            if report.ok:
                failures = 0
                wait = max(0.0, started + self.opts.every - self.clock())
            else:
                failures += 1
                wait = min(self.opts.every, self.opts.backoff * 2 ** (failures - 1))
                if report.status != "interrupted":
                    self.say(f"retrying in {wait:.0f}s")
            if self.opts.cycles is not None and done >= self.opts.cycles:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=wait)

    def _kind(self, now: float) -> str:
        due = self._last_full is None or now - self._last_full >= self.opts.full_every
        return "full_walk" if due else "changes"

    async def _cycle(self, kind: str) -> CycleReport:
        rid = self.pinger.run_id()
        await self.pinger.start(rid)
        try:
            report = await run_cycle(
                self.settings,
                self.opts,
                kind,
                on_crawl=self._set_crawl,
                say=self.say,
                warn=self._warn_once,
            )
        except _FATAL:
            raise
        except (Exception, ArchiveError) as exc:
            report = CycleReport(kind=kind, status="failed", started=self.clock())
            report.ended = self.clock()
            report.error, report.error_kind = str(exc) or repr(exc), type(exc).__name__
        if report.ok and report.kind == "full_walk":
            self._last_full = report.started
        self._record(report)
        if report.ok:
            await self.pinger.success(rid, report.summary())
        elif report.status != "interrupted":
            await self.pinger.fail(rid, report.summary())
        return report

    def _record(self, report: CycleReport) -> None:
        self.metrics.observe(report)
        if report.status != "interrupted":
            self.health.record(report.ok, report.ended, report.summary())
        self.reports = [*self.reports[-99:], report]
        self.say(report.summary())
        if self.opts.metrics_file is not None:
            try:
                write_textfile(self.opts.metrics_file, self.metrics.exposition())
            except OSError as exc:
                self.say(f"cannot write --metrics-file {self.opts.metrics_file}: {exc.strerror}")

    def _warn_once(self, message: str) -> None:
        """A warning a cycle gives (not sealed, say) is said once, not every few minutes."""
        if message not in self._warned:
            self._warned.add(message)
            self.say(f"warning: {message}")

    def _set_crawl(self, crawl: Crawl | None) -> None:
        self._crawl = crawl
        if crawl is not None and self.stopping:
            crawl.request_stop()

    def _find_last_full(self) -> float | None:
        """When the newest finished full walk with these filters started (None: never)."""
        key = self.settings.filters.key()
        try:
            with Archive.open_for_reading(self.settings.archive) as arc:
                for snap in reversed(arc.index.list_snapshots()):
                    if snap.filter_key != key or snap.status not in ("complete", "partial"):
                        continue
                    if (arc.index.feed_state(snap.id) or {}).get("cycle") != "changes":
                        return parse_instant(snap.started_at).timestamp()
        except ArchiveError:
            return None  # no archive yet: the first cycle makes it, with a full walk
        return None


class _Signals:
    """First SIGINT/SIGTERM: stop after the cycle's snapshot is consistent. Second: at once."""

    def __init__(self, watch: Watch, main: asyncio.Task[Any] | None) -> None:
        self.watch, self.main = watch, main
        self.loop = asyncio.get_running_loop()
        self.installed: list[int] = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                self.loop.add_signal_handler(sig, self._on_signal)
                self.installed.append(sig)

    def _on_signal(self) -> None:
        if not self.watch.stopping:
            self.watch.say("stopping: ending the cycle cleanly (signal again to stop at once)")
            self.watch.request_stop()
        elif self.main is not None:
            self.main.cancel()

    def remove(self) -> None:
        for sig in self.installed:
            self.loop.remove_signal_handler(sig)

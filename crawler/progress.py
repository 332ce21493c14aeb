"""What the user sees while a crawl runs, and the summary at the end.

Three modes: a live bar on a terminal, periodic log lines otherwise (``text``
or ``json``), and ``quiet`` (nothing but the summary). It is fed counts only,
never response bodies, so no document text can reach a log, and it keeps a
handful of numbers whatever the size of the run.

The estimate counts requests, not seconds: the API allows a fixed number per
second, so the time left is the requests left divided by the rate the run
actually gets (the configured one, or less when the server holds us back),
never by how fast this machine happens to be. The requests left are the
projects left (those in flight counted half done) times the requests a
project has cost so far. Until the list walk has ended (no total before that:
the list endpoint returns no count) and a few projects have been measured, it
says "estimating" rather than guess.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

import orjson

from crawler.summary import human_bytes, human_duration, pace_line

LOG_EVERY_SECONDS = 10.0
TTY_EVERY_SECONDS = 0.25
LIST_ENDPOINT = "projects.list"
# Projects measured (after the first) before the per-project cost is trusted.
MIN_MEASURED_PROJECTS = 5
BAR_WIDTH = 24
MARK_DIV = 4


@dataclass(frozen=True)
class Estimate:
    """Where the run stands, in requests; ``None`` where it is not known yet."""

    requests: int  # sent by this run, retries included
    requests_left: int | None
    eta_seconds: float | None
    achieved_rate: float  # requests per second over this run
    configured_rate: float  # 0: unlimited
    projects_done: int
    projects_total: int | None  # known once the list walk has ended


class Progress:
    def __init__(
        self,
        request_stats: Callable[[], dict[str, Any]],
        *,
        mode: str = "log",  # tty | log | quiet
        log_format: str = "text",
        stream: TextIO | None = None,
        rate: float | Callable[[], float] = 0.0,
        clock: Callable[[], float] = time.monotonic,
        width: int | None = None,
    ) -> None:
        self.request_stats = request_stats
        self.mode = mode
        self.log_format = log_format
        self.stream = stream or sys.stderr
        # The configured rate, or a reading of the limiter's (``--rate auto`` moves it).
        self._rate = rate if callable(rate) else (lambda: float(rate))
        self.clock = clock
        self.width = width
        self.snapshot_id = ""
        self.listed_count = 0
        self.walk_done = False
        self.total = 0  # projects this run settles, once the walk has ended
        self.in_flight = 0  # projects a worker is fetching now
        self.by_state: dict[str, int] = {}
        self.documents = 0
        self.files = 0
        self.bytes = 0
        self.failures = 0
        self._t0 = clock()
        # (projects done, requests on projects) when 1, 2, 4, 8 ... projects were done.
        self._marks: list[tuple[int, int]] = []
        self._last_line_len = 0

    @classmethod
    def for_terminal(
        cls,
        request_stats: Callable[[], dict[str, Any]],
        *,
        quiet: bool,
        log_format: str,
        rate: float | Callable[[], float] = 0.0,
    ) -> Progress:
        if quiet:
            mode = "quiet"
        elif log_format == "text" and sys.stderr.isatty():
            mode = "tty"
        else:
            mode = "log"
        return cls(request_stats, mode=mode, log_format=log_format, rate=rate)

    @property
    def rate(self) -> float:
        """Requests per second the run may send now (0: unlimited)."""
        return self._rate()

    # -- events from the crawl -------------------------------------------------------

    def start(self, snapshot_id: str, *, resumed: bool, incremental: bool) -> None:
        self.snapshot_id = snapshot_id
        self._t0 = self.clock()
        how = "resuming" if resumed else ("incremental" if incremental else "new")
        self.log("snapshot", f"{how} snapshot {snapshot_id}", snapshot=snapshot_id, kind=how)

    def listed(self, n: int) -> None:
        """A list page brought ``n`` projects new to the snapshot."""
        self.listed_count += n

    def listing_done(self, to_settle: int) -> None:
        """The list walk has ended; this run has ``to_settle`` projects to fetch or carry."""
        self.walk_done = True
        self.total = to_settle

    @contextlib.contextmanager
    def fetching(self) -> Iterator[None]:
        """Around one project's fetch: the estimate counts work in flight as half done."""
        self.in_flight += 1
        try:
            yield
        finally:
            self.in_flight -= 1

    def project(self, state: str, *, failures: int = 0) -> None:
        self.by_state[state] = self.by_state.get(state, 0) + 1
        self.failures += failures + (1 if state == "failed" else 0)
        done = self.projects_done
        if done & (done - 1) == 0:  # a power of two: log2(n) marks, memory stays flat
            self._marks.append((done, self._project_requests(self.request_stats())))

    def item(self, kind: str, nbytes: int) -> None:
        if kind == "document":
            self.documents += 1
        elif kind == "file":
            self.files += 1
        self.bytes += nbytes

    # -- the estimate -------------------------------------------------------------------

    @property
    def projects_done(self) -> int:
        return sum(self.by_state.values())

    @staticmethod
    def _project_requests(stats: dict[str, Any]) -> int:
        listing = (stats.get("by_endpoint") or {}).get(LIST_ENDPOINT) or {}
        return int(stats.get("total", 0)) - sum(int(n) for n in listing.values())

    def elapsed(self) -> float:
        return max(self.clock() - self._t0, 1e-9)

    def estimate(self, stats: dict[str, Any] | None = None) -> Estimate:
        stats = self.request_stats() if stats is None else stats
        requests = int(stats.get("total", 0))
        achieved = requests / self.elapsed()
        done = self.projects_done
        total = max(self.total, done) if self.walk_done else None
        left: int | None = None
        if total is not None and done >= total:
            left = 0
        elif total is not None:
            # The cost of a project, measured from a mark past the first quarter of those
            # done: the start (the queue filling, small projects finishing first) is left
            # behind, and as many projects are in flight at the mark as now, so their
            # part-done work cancels out.
            cutoff = max(1, done // MARK_DIV)
            mark = next((m for m in reversed(self._marks) if m[0] <= cutoff), None)
            if mark is not None and done - mark[0] >= MIN_MEASURED_PROJECTS:
                per_project = (self._project_requests(stats) - mark[1]) / (done - mark[0])
                # Projects in flight are half done, on average.
                left = round(per_project * max(0.0, total - done - self.in_flight / 2))
        eta: float | None = None
        rate = self.rate
        if left is not None:
            # The rate limit sets the pace; a run held below it (429s, a slow server)
            # goes at what it achieves.
            pace = min(rate, achieved) if rate > 0 else achieved
            eta = left / pace if pace > 0 else (0.0 if left == 0 else None)
        return Estimate(requests, left, eta, achieved, rate, done, total)

    # -- rendering ----------------------------------------------------------------------

    def fields(self) -> dict[str, Any]:
        stats = self.request_stats()
        est = self.estimate(stats)
        return {
            "projects_done": est.projects_done,
            "projects_listed": self.listed_count,
            "projects_total": est.projects_total,
            "listing": not self.walk_done,
            "carried": self.by_state.get("carried", 0),
            "gone": self.by_state.get("gone", 0),
            "documents": self.documents,
            "files": self.files,
            "bytes": self.bytes,
            "requests": est.requests,
            "requests_left_estimate": est.requests_left,
            "requests_per_second": round(est.achieved_rate, 2),
            "rate_configured": est.configured_rate,
            "eta_seconds": None if est.eta_seconds is None else round(est.eta_seconds),
            "retries": stats.get("retries", 0),
            "rate_limited": stats.get("rate_limited", 0),
            "failures": self.failures,
        }

    def _parts(self, f: dict[str, Any], *, bar: bool = True) -> list[str]:
        """The line's pieces, most important first (a narrow terminal drops the tail)."""
        if f["projects_total"] is None:
            head = f"listing projects: {f['projects_listed']} found, {f['projects_done']} done"
        else:
            total = f["projects_total"]
            frac = f["projects_done"] / total if total else 1.0
            filled = round(frac * BAR_WIDTH)
            drawn = "█" * filled + "░" * (BAR_WIDTH - filled) + " " if bar else ""
            head = f"projects {drawn}{f['projects_done']}/{total} {frac:4.0%}"
        eta = "estimating" if f["eta_seconds"] is None else human_duration(f["eta_seconds"])
        left = f["requests_left_estimate"]
        requests = f"requests {f['requests']}" + ("" if left is None else f" (~{left} left)")
        configured = f["rate_configured"]
        rate = f"{f['requests_per_second']:.2f}" + (
            f"/{configured:g} req/s" if configured else " req/s (unlimited)"
        )
        return [
            head,
            f"ETA {eta}",
            requests,
            rate,
            f"docs {f['documents']} · files {f['files']} · {human_bytes(f['bytes'])}",
            f"retries {f['retries']} · 429s {f['rate_limited']} · failures {f['failures']}",
        ]

    def line(self, width: int | None = None) -> str:
        parts = self._parts(self.fields())
        if width is None:
            return " · ".join(parts)
        text = parts[0][:width]
        for part in parts[1:]:
            if len(text) + 3 + len(part) > width:
                break
            text += " · " + part
        return text

    def log(self, event: str, message: str, **extra: Any) -> None:
        if self.mode == "quiet":
            return
        self._clear_tty()
        if self.log_format == "json":
            record = {
                "ts": datetime.now(UTC).isoformat(),
                "event": event,
                "message": message,
                **extra,
            }
            self.stream.write(orjson.dumps(record).decode() + "\n")
        else:
            self.stream.write(f"crawler: {message}\n")
        self.stream.flush()

    def tick(self) -> None:
        if self.mode == "tty":
            width = self.width or shutil.get_terminal_size((100, 24)).columns
            text = self.line(width - 1)  # the last column would wrap on some terminals
            pad = max(0, self._last_line_len - len(text))
            self.stream.write("\r" + text + " " * pad)
            self.stream.flush()
            self._last_line_len = len(text)
        elif self.mode == "log":
            f = self.fields()
            # No bar in a log: a file or a collector wants the figures, not block glyphs.
            self.log("progress", " · ".join(self._parts(f, bar=False)), **f)

    def _clear_tty(self) -> None:
        if self.mode == "tty" and self._last_line_len:
            self.stream.write("\r" + " " * self._last_line_len + "\r")
            self._last_line_len = 0

    async def run(self) -> None:
        if self.mode == "quiet":
            return
        every = TTY_EVERY_SECONDS if self.mode == "tty" else LOG_EVERY_SECONDS
        try:
            while True:
                await asyncio.sleep(every)
                self.tick()
        finally:
            self._clear_tty()

    def pace(self) -> str:
        """This run against the budget's floor (the summary's ``pace`` line)."""
        return pace_line(int(self.request_stats().get("total", 0)), self.elapsed(), self.rate)

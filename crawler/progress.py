"""What the user sees while a crawl runs, and the summary at the end.

Three modes: a live status line on a terminal, periodic log lines otherwise
(``text`` or ``json``), and ``quiet`` (nothing but the summary). It is fed
counts only, never response bodies, so no document text can reach a log.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TextIO

import orjson

LOG_EVERY_SECONDS = 10.0
TTY_EVERY_SECONDS = 0.25


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


class Progress:
    def __init__(
        self,
        request_stats: Callable[[], dict[str, Any]],
        *,
        mode: str = "log",  # tty | log | quiet
        log_format: str = "text",
        stream: TextIO | None = None,
    ) -> None:
        self.request_stats = request_stats
        self.mode = mode
        self.log_format = log_format
        self.stream = stream or sys.stderr
        self.snapshot_id = ""
        self.listed_count = 0
        self.by_state: dict[str, int] = {}
        self.documents = 0
        self.files = 0
        self.bytes = 0
        self.failures = 0
        self._t0 = time.monotonic()
        self._last_line_len = 0

    @classmethod
    def for_terminal(
        cls, request_stats: Callable[[], dict[str, Any]], *, quiet: bool, log_format: str
    ) -> Progress:
        if quiet:
            mode = "quiet"
        elif log_format == "text" and sys.stderr.isatty():
            mode = "tty"
        else:
            mode = "log"
        return cls(request_stats, mode=mode, log_format=log_format)

    # -- events from the pipeline -------------------------------------------------------

    def start(self, snapshot_id: str, *, resumed: bool, incremental: bool) -> None:
        self.snapshot_id = snapshot_id
        self._t0 = time.monotonic()
        how = "resuming" if resumed else ("incremental" if incremental else "new")
        self.log("snapshot", f"{how} snapshot {snapshot_id}", snapshot=snapshot_id, kind=how)

    def listed(self, n: int) -> None:
        self.listed_count += n

    def project(self, state: str, *, failures: int = 0) -> None:
        self.by_state[state] = self.by_state.get(state, 0) + 1
        self.failures += failures + (1 if state == "failed" else 0)

    def item(self, kind: str, nbytes: int) -> None:
        if kind == "document":
            self.documents += 1
        elif kind == "file":
            self.files += 1
        self.bytes += nbytes

    # -- rendering ----------------------------------------------------------------------

    def fields(self) -> dict[str, Any]:
        stats = self.request_stats()
        elapsed = max(time.monotonic() - self._t0, 1e-9)
        return {
            "projects_done": sum(self.by_state.values()),
            "projects_listed": self.listed_count,
            "carried": self.by_state.get("carried", 0),
            "gone": self.by_state.get("gone", 0),
            "documents": self.documents,
            "files": self.files,
            "bytes": self.bytes,
            "requests": stats.get("total", 0),
            "requests_per_second": round(stats.get("total", 0) / elapsed, 2),
            "retries": stats.get("retries", 0),
            "rate_limited": stats.get("rate_limited", 0),
            "failures": self.failures,
        }

    def line(self) -> str:
        f = self.fields()
        return (
            f"projects {f['projects_done']}/{f['projects_listed']} · docs {f['documents']} · "
            f"files {f['files']} · {human_bytes(f['bytes'])} · {f['requests_per_second']:.2f} req/s · "
            f"retries {f['retries']} · 429s {f['rate_limited']} · failures {f['failures']}"
        )

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
            text = self.line()
            pad = max(0, self._last_line_len - len(text))
            self.stream.write("\r" + text + " " * pad)
            self.stream.flush()
            self._last_line_len = len(text)
        elif self.mode == "log":
            self.log("progress", self.line(), **self.fields())

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


def _feed_line(feed: Any) -> str | None:
    """One line on what the activity feed did for this snapshot."""
    if not isinstance(feed, dict):
        return None
    status = feed.get("status")
    if status == "read":
        window = feed.get("window") or {}
        events = feed.get("events") or {}
        return (
            f"read {window.get('created_at_gte')} .. {window.get('created_at_lt')}: "
            f"{events.get('read', 0)} events ({events.get('acted', 0)} new), "
            f"{feed.get('projects', 0)} projects named, {len(feed.get('pages') or [])} page(s)"
        )
    if status == "unavailable":
        return f"unavailable: {feed.get('reason')}"
    if status == "no_position":
        return f"no usable position ({feed.get('reason')}): every project fetched"
    return None


def summary(manifest: dict[str, Any], archive: str) -> str:
    """The final report: what was collected, what it cost, and what failed."""
    c = manifest["counts"]
    r = manifest["requests"]
    lines = [
        f"snapshot {manifest['snapshot_id']}: {manifest['status']}",
        f"  projects   {c['projects']} (done {c['done']}, carried {c['carried']}, gone {c['gone']}, "
        f"partial {c['partial']}, failed {c['failed']})",
        f"  documents  {c['documents']}   files {c['files']}   collaborators {c['collaborators']}   "
        f"bodies {human_bytes(c['bytes'])}",
        f"  requests   {r['total']} (retries {r['retries']}, 429s {r['rate_limited']}) over "
        f"{len(manifest['runs'])} run(s)",
        f"  archive    {archive}",
    ]
    feed = _feed_line(manifest.get("feed"))
    if feed:
        lines.insert(-1, f"  feed       {feed}")
    failures = manifest.get("failures") or []
    if failures:
        lines.append(f"  failures   {len(failures)} (a rerun with the same filters retries them):")
        for f in failures[:20]:
            rid = f" request-id {f['request_id']}" if f.get("request_id") else ""
            lines.append(
                f"    - {f['kind']} {f.get('item_id') or ''} of {f.get('project_id')}: {f['reason']}{rid}"
            )
        if len(failures) > 20:
            lines.append(f"    ... and {len(failures) - 20} more in the manifest")
    return "\n".join(lines)

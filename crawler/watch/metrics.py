"""The Prometheus metrics of ``crawler watch`` (and of one-shot runs, ``--metrics-file``).

Named by Prometheus's conventions: ``crawler_`` prefix, base units, timestamps
(``..._timestamp_seconds``) rather than ages, so an alert computes the age with
``time()``; counters end in ``_total``; labels are small fixed sets (endpoint,
status, state, kind), never an id or a hash. Every figure is set when a cycle
ends (:meth:`WatchMetrics.observe`); a scrape only reads them.

A registry per process object (never the global one), so tests and several
watches in one interpreter do not collide.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from crawler.archive.schema import PROJECT_STATES
from crawler.canonical import parse_instant
from crawler.watch.cycle import CycleReport

__all__ = ["WatchMetrics", "write_textfile"]

_BUCKETS = (0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200)


class WatchMetrics:
    def __init__(self, every: float = 0.0, full_every: float = 0.0) -> None:
        self.registry = r = CollectorRegistry()
        self._newest = 0.0
        g, c = _factory(Gauge, r), _factory(Counter, r)
        self.last_success = g(
            "last_success_timestamp_seconds", "End of the last cycle that finished a snapshot"
        )
        self.last_cycle = g(
            "last_cycle_timestamp_seconds", "End of the last cycle, whatever its outcome"
        )
        self.last_cycle_ok = g(
            "last_cycle_success", "1 if the last cycle finished a snapshot, else 0"
        )
        self.newest_change = g(
            "newest_change_timestamp_seconds", "Time of the newest upstream change archived"
        )
        self.feed_position = g(
            "feed_position_timestamp_seconds",
            "Every change before this instant is archived or was read",
        )
        self.requests = c(
            "requests_total", "API requests sent, by endpoint and status", ["endpoint", "status"]
        )
        self.rate_limited = c("rate_limited_total", "429 answers")
        self.retries = c("retries_total", "Requests sent again after a failure")
        self.failures = c("cycle_failures_total", "Cycles that failed, by kind of error", ["kind"])
        self.item_failures = c(
            "item_failures_total", "Items recorded as failed in a snapshot, by kind", ["kind"]
        )
        self.projects = g("projects", "Projects in the last snapshot, by state", ["state"])
        self.bytes_archived = c("archived_bytes_total", "Bytes of blobs added to the archive")
        self.bytes_received = c("received_bytes_total", "Body bytes received from the API")
        self.rate_achieved = g(
            "request_rate_achieved", "Requests per second the last cycle achieved"
        )
        self.rate_allowed = g(
            "request_rate_allowed", "Requests per second the last cycle was allowed"
        )
        self.feed_events = c("feed_events_read_total", "Activity Feed events read, new ones only")
        self.cycles = c("cycles_total", "Cycles, by kind and outcome", ["kind", "outcome"])
        self.duration = Histogram(
            "crawler_cycle_duration_seconds",
            "Cycle duration",
            ["kind"],
            registry=r,
            buckets=_BUCKETS,
        )
        self.verify_passed = g(
            "verify_last_passed", "1 if the last verify slice found every blob whole"
        )
        self.verify_time = g("verify_last_timestamp_seconds", "When the last verify slice ran")
        self.verify_checked = c("verify_blobs_checked_total", "Blobs re-hashed by verify slices")
        self.verify_bad = c("verify_bad_blobs_total", "Blobs found damaged by verify slices")
        g("interval_seconds", "The configured --every").set(every)
        g("full_walk_interval_seconds", "The configured --full-every").set(full_every)
        for state in sorted(PROJECT_STATES):
            self.projects.labels(state).set(0)

    def observe(self, report: CycleReport) -> None:
        """Everything a cycle's end says, at once."""
        outcome = (
            report.status
            if report.ok
            else ("interrupted" if report.status == "interrupted" else "failed")
        )
        self.cycles.labels(report.kind, outcome).inc()
        self.duration.labels(report.kind).observe(max(0.0, report.ended - report.started))
        self.last_cycle.set(report.ended)
        self.last_cycle_ok.set(1 if report.ok else 0)
        self._requests(report.requests)
        if report.pacing:
            self.rate_achieved.set(float(report.pacing.get("achieved_rate") or 0.0))
            self.rate_allowed.set(float(report.pacing.get("ceiling") or 0.0))
        if report.error_kind:
            self.failures.labels(report.error_kind).inc()
        if report.blob_bytes > 0:
            self.bytes_archived.inc(report.blob_bytes)
        if report.verify is not None:
            self.verify_passed.set(1 if report.verify.passed else 0)
            self.verify_time.set(parse_instant(report.verify.at).timestamp())
            self.verify_checked.inc(report.verify.checked)
            self.verify_bad.inc(len(report.verify.bad))
        if report.manifest is not None and report.ok:
            self._snapshot(report, report.manifest)

    def _requests(self, stats: dict[str, Any]) -> None:
        for endpoint, statuses in (stats.get("by_endpoint") or {}).items():
            for status, n in statuses.items():
                self.requests.labels(endpoint, str(status)).inc(int(n))
        self.rate_limited.inc(int(stats.get("rate_limited", 0) or 0))
        self.retries.inc(int(stats.get("retries", 0) or 0))
        self.bytes_received.inc(int(stats.get("bytes_received", 0) or 0))

    def _snapshot(self, report: CycleReport, manifest: dict[str, Any]) -> None:
        self.last_success.set(report.ended)
        counts = manifest.get("counts", {})
        for state in sorted(PROJECT_STATES):
            self.projects.labels(state).set(int(counts.get(state, 0) or 0))
        for f in manifest.get("failures", []):
            self.item_failures.labels(str(f.get("kind", "unknown"))).inc()
        feed = manifest.get("feed", {})
        events = feed.get("events", {})
        if isinstance(events, dict):
            self.feed_events.inc(int(events.get("acted", 0) or 0))
        until = (feed.get("position") or {}).get("until")
        if isinstance(until, str):
            self.feed_position.set(parse_instant(until).timestamp())
        if report.newest_change:
            stamp = parse_instant(report.newest_change).timestamp()
            if stamp > self._newest:  # never goes backwards
                self._newest = stamp
                self.newest_change.set(stamp)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


def _factory(kind: Any, registry: CollectorRegistry) -> Any:
    def make(name: str, doc: str, labels: list[str] | None = None) -> Any:
        return kind(f"crawler_{name}", doc, labels or [], registry=registry)

    return make


def write_textfile(path: Path, data: bytes) -> None:
    """For node_exporter's textfile collector: a temporary file, fsync, rename; 0644 so the
    exporter (another user) can read it, and named ``.prom`` by the caller."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)

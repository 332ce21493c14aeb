"""``crawler archive`` as a timer's job: ``--metrics-file`` and ``--ping-url`` for one run.

The same metric names as ``crawler watch``'s (:mod:`crawler.watch.metrics`), so one
alert serves both; the file is rewritten atomically when the run ends, whatever its
outcome (a run that fails says so in ``crawler_cycle_failures_total``). The pings
are watch's (``/start``, success, ``/fail`` with the summary, a run id per run).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from crawler import app
from crawler.config import Settings
from crawler.crawl import RunResult
from crawler.errors import CrawlerError
from crawler.watch.cycle import CycleReport
from crawler.watch.metrics import WatchMetrics, write_textfile
from crawler.watch.ping import Pinger

__all__ = ["run_once"]


def _warn(message: str) -> None:
    print(f"crawler: warning: {message}", file=sys.stderr)


def _report(started: float, result: RunResult | None, error: BaseException | None) -> CycleReport:
    report = CycleReport(kind="archive", status="failed", started=started)
    report.ended = time.time()
    if result is not None:
        report.status, report.snapshot_id = result.status, result.snapshot_id
        report.manifest = manifest = result.manifest
        if manifest is not None:
            report.requests = manifest.get("requests", {})  # the snapshot's, every run of it
            report.pacing = (manifest.get("runs") or [{}])[-1].get("pacing") or {}
    if error is not None:
        report.error, report.error_kind = str(error), type(error).__name__
    return report


def _summary(report: CycleReport) -> str:
    if report.error:
        return f"archive failed: {report.error_kind}: {report.error}"
    counts = (report.manifest or {}).get("counts", {})
    return (
        f"archive {report.status}: snapshot {report.snapshot_id}, "
        f"{counts.get('projects', 0)} projects, {report.requests.get('total', 0)} requests"
    )


async def run_once(
    settings: Settings, *, lock_wait: float, metrics_file: Path | None, ping_url: str | None
) -> int:
    pinger, started = Pinger(ping_url, _warn), time.time()
    rid = pinger.run_id()
    await pinger.start(rid)
    results: list[RunResult] = []
    try:
        code = await app.run_archive(settings, lock_wait=lock_wait, on_result=results.append)
    except (CrawlerError, OSError) as exc:
        report = _report(started, None, exc)
        _write(metrics_file, report)
        await pinger.fail(rid, _summary(report))
        raise
    report = _report(started, results[0] if results else None, None)
    _write(metrics_file, report)
    if code == app.EXIT_OK:
        await pinger.success(rid, _summary(report))
    else:
        await pinger.fail(rid, _summary(report))
    return code


def _write(path: Path | None, report: CycleReport) -> None:
    if path is None:
        return
    metrics = WatchMetrics()
    metrics.observe(report)
    try:
        write_textfile(path, metrics.exposition())
    except OSError as exc:
        _warn(f"cannot write --metrics-file {path}: {exc.strerror}")

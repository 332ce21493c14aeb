"""``crawler archive --metrics-file``: one run's metrics for node_exporter's textfile collector.

The same names as ``crawler watch``'s (:mod:`crawler.watch.metrics`), so one alert
serves both; the file is rewritten atomically when the run ends, whatever its outcome.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from crawler.crawl import RunResult
from crawler.watch.cycle import CycleReport
from crawler.watch.metrics import WatchMetrics, write_textfile

__all__ = ["metrics_writer"]


def metrics_writer(path: Path, *, interval: float = 0.0) -> Callable[[RunResult], None]:
    """A callback for ``app.run_archive(on_result=...)`` writing ``path``."""
    started = time.time()

    def write(result: RunResult) -> None:
        manifest = result.manifest
        report = CycleReport(kind="archive", status=result.status, started=started)
        report.ended = time.time()
        report.snapshot_id, report.manifest = result.snapshot_id, manifest
        if manifest is not None:
            report.requests = manifest.get("requests", {})  # the snapshot's, every run of it
            runs = manifest.get("runs") or [{}]
            report.pacing = runs[-1].get("pacing") or {}
        metrics = WatchMetrics(every=interval)
        metrics.observe(report)
        write_textfile(path, metrics.exposition())

    return write

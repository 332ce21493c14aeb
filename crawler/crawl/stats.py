"""The run's record in the snapshot's ``stats``: runs, request counts, content totals.

``stats`` (index column, JSON) holds ``runs`` (one entry per run of the
snapshot: times, outcome, request counts) and ``totals`` (the content counts
the manifest reports: documents, files, collaborators, attachments, bytes).
Totals come from each project's :class:`~crawler.crawl.work.Outcome` and are
saved in the same transaction as the project's row, so they always agree with
the rows, across kills and resumes; nothing is read back at the end. A snapshot
begun by an older crawler has no ``totals``: they are summed from its records
once, when a run continues it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Any

from crawler import __version__
from crawler.archive import Archive, SnapshotRow
from crawler.archive.records import TOTAL_KEYS, Record
from crawler.canonical import utc_now
from crawler.crawl.work import Outcome

__all__ = ["STATS_EVERY_SECONDS", "RunStats", "merge_request_stats"]

# A run killed with SIGKILL loses the request counts since its last save: at most this long.
STATS_EVERY_SECONDS = 1.0


class RunStats:
    """This run's entry in ``stats``, the runs before it (read once), and the totals."""

    def __init__(
        self,
        archive: Archive,
        snapshot: SnapshotRow,
        requests: Callable[[], dict[str, Any]],
        run_started: str,
        pacing: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        self.index = archive.index
        self.snapshot_id = snapshot.id
        self._requests = requests
        self._pacing = pacing
        self._run_started = run_started
        stored = snapshot.stats or {}
        # The runs before this one cannot change while this one runs.
        self._earlier_runs = [dict(r) for r in stored.get("runs", [])]
        for r in self._earlier_runs:
            if r.get("outcome") == "running":  # still "running" when we started: it was killed
                r["outcome"] = "killed"
        totals = stored.get("totals")
        if isinstance(totals, dict):
            self.totals = {k: int(totals.get(k, 0)) for k in TOTAL_KEYS}
        else:
            self.totals = _sum_records(archive, snapshot.id)

    def current(self, outcome: str | None) -> dict[str, Any]:
        """The stats JSON as it stands; ``outcome`` None while the run goes on."""
        runs = list(self._earlier_runs)
        runs.append(
            {
                "run_id": self._run_started,
                "started_at": self._run_started,
                "ended_at": utc_now() if outcome else None,
                "outcome": outcome or "running",
                "tool_version": __version__,
                "requests": self._requests(),
                **({"pacing": self._pacing()} if self._pacing is not None else {}),
            }
        )
        return {"runs": runs, "totals": dict(self.totals)}

    def save(self, outcome: str | None) -> dict[str, Any]:
        stats = self.current(outcome)
        self.index.save_stats(self.snapshot_id, stats)
        return stats

    def record(self, project_id: str, outcome: Outcome, replaces: dict[str, int]) -> None:
        """The project's row, its failures and the totals that now include it: one transaction."""
        for k in TOTAL_KEYS:
            self.totals[k] += outcome.totals.get(k, 0) - replaces.get(k, 0)
        self.index.record_project(
            self.snapshot_id,
            project_id,
            outcome.state,
            outcome.record,
            outcome.failures,
            stats=self.current(None),
        )

    async def save_periodically(self) -> None:
        while True:
            self.save(None)  # at once: a run killed early is still on record
            await asyncio.sleep(STATS_EVERY_SECONDS)


def _sum_records(archive: Archive, snapshot_id: str) -> dict[str, int]:
    totals = dict.fromkeys(TOTAL_KEYS, 0)
    for row in archive.index.projects(snapshot_id):
        if row.record is not None:
            for k, v in Record(archive.read_record(row.record)).totals().items():
                totals[k] += v
    return totals


def merge_request_stats(runs: Iterable[dict[str, Any]]) -> dict[str, Any]:
    total: dict[str, Any] = {
        "total": 0,
        "retries": 0,
        "rate_limited": 0,
        "bytes_received": 0,
        "by_endpoint": {},
    }
    for r in runs:
        for k in ("total", "retries", "rate_limited", "bytes_received"):
            total[k] += int(r.get(k, 0) or 0)
        for endpoint, statuses in (r.get("by_endpoint") or {}).items():
            slot = total["by_endpoint"].setdefault(endpoint, {})
            for status, n in statuses.items():
                slot[str(status)] = slot.get(str(status), 0) + int(n)
    return total

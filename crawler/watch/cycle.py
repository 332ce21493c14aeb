"""One watch cycle: take the lock, crawl (a changes cycle or a full walk), index, verify.

Its client is its own, so the request counts of a cycle are that cycle's; the
figures the metrics need are gathered here, when the cycle ends (never at scrape
time), into a :class:`CycleReport`.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from crawler.api import ComplianceClient
from crawler.app import client_config, reach
from crawler.archive import Archive, SnapshotRow
from crawler.config import Settings
from crawler.crawl import Crawl
from crawler.crawl.feed_plan import API_ACCESSED
from crawler.crawl.listing import Listing
from crawler.progress import Progress
from crawler.read.indexer import update_after_snapshot
from crawler.seal.sealer import Sealer
from crawler.watch.changes import ChangesListing
from crawler.watch.lockwait import open_when_free
from crawler.watch.options import WatchOptions
from crawler.watch.verifying import SliceResult, verify_slice

__all__ = ["CycleReport", "cycle_settings", "run_cycle"]


@dataclass
class CycleReport:
    kind: str  # changes | full_walk (what it turned out to be)
    status: str  # complete | partial | interrupted | failed
    started: float  # unix seconds
    ended: float = 0.0
    snapshot_id: str | None = None
    manifest: dict[str, Any] | None = None
    requests: dict[str, Any] = field(default_factory=dict)
    pacing: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    error_kind: str | None = None  # the error's class name, e.g. ListWalkError
    verify: SliceResult | None = None
    newest_change: str | None = None  # instant key of the newest change archived
    blob_bytes: int = 0  # bytes of the blobs this cycle added

    @property
    def ok(self) -> bool:
        return self.status in ("complete", "partial")

    def summary(self) -> str:
        """One line: what a log, a ping body and an alert say of the cycle."""
        if self.error:
            return f"{self.kind} cycle failed: {self.error_kind}: {self.error}"
        counts = (self.manifest or {}).get("counts", {})
        fetched = sum(counts.get(s, 0) for s in ("done", "partial", "gone", "failed"))
        verify = "" if self.verify is None else f", {self.verify.summary()}"
        return (
            f"{self.kind} cycle {self.status}: snapshot {self.snapshot_id}, "
            f"{fetched} fetched, {counts.get('carried', 0)} carried, "
            f"{self.requests.get('total', 0)} requests, {self.ended - self.started:.1f}s{verify}"
        )


def cycle_settings(settings: Settings) -> Settings:
    """Every cycle is incremental and reads the feed up to now (README, "Watching"). The
    feed is required: without it every cycle would be a 200-page walk that still misses
    document changes, so a key without read:compliance_activities is refused (exit 2)."""
    return replace(
        settings,
        incremental=True,
        require_feed=True,
        feed_settle_seconds=0.0,
        restart=False,
        quiet=True,
    )


async def run_cycle(
    settings: Settings,
    opts: WatchOptions,
    kind: str,
    *,
    on_crawl: Callable[[Crawl | None], None] = lambda _c: None,
    say: Callable[[str], None] = lambda _m: None,
    warn: Callable[[str], None] = lambda m: print(f"crawler: warning: {m}", file=sys.stderr),
) -> CycleReport:
    """One cycle; a failure is reported, not raised, except the ones a person must fix."""
    report = CycleReport(kind=kind, status="failed", started=time.time())
    await reach(settings)
    arc = await open_when_free(settings.archive, opts.lock_wait, on_wait=say)
    try:
        # The seal (issue #19), as crawler archive does: catch up on what a killed cycle
        # finished but did not log, then log and sign this cycle's snapshot when it ends.
        sealer = Sealer(arc.path, settings.signing_key_file, warn, arc.store)
        sealer.sync(arc.index)
        bytes_before = _blob_bytes(arc)
        # First, so the result is in this cycle's manifest; of the blobs there before it.
        report.verify = await verify_slice(arc, opts.verify_slice)
        extra = {"verify_slice": report.verify.to_json()}
        async with ComplianceClient(client_config(settings)) as client:
            progress = Progress.for_terminal(client.stats.snapshot, quiet=True, log_format="text")
            listing: type[Listing] = ChangesListing if kind == "changes" else Listing
            crawl = Crawl(
                settings,
                client,
                arc,
                progress,
                listing=listing,
                feed_types=(API_ACCESSED,),
                manifest_extra=extra,
                before_manifest=lambda snap: _compact(arc, snap),
            )
            on_crawl(crawl)
            try:
                result = await crawl.run()
            finally:
                on_crawl(None)
                report.requests = client.stats.snapshot()
                report.pacing = client.limiter.summary()
        report.snapshot_id, report.status, report.manifest = (
            result.snapshot_id,
            result.status,
            result.manifest,
        )
        if result.manifest is not None:
            sealer.sync(arc.index)  # its leaf and checkpoint, before it is reported
            report.kind = str(result.manifest.get("feed", {}).get("cycle", "full_walk"))
            update_after_snapshot(arc, warn)
            report.newest_change = arc.index.newest_change(result.snapshot_id)
        report.blob_bytes = _blob_bytes(arc) - bytes_before
    finally:
        arc.close()
        report.ended = time.time()
    return report


def _compact(arc: Archive, snap: SnapshotRow) -> None:
    """A full walk costs what changed too: stored as a delta of its parent (tombstones for
    what vanished); a changes cycle is one already."""
    if snap.parent_id is not None:
        arc.index.compact_into_delta(snap.id, snap.parent_id)


def _blob_bytes(arc: Archive) -> int:
    with contextlib.suppress(Exception):
        return arc.index.blob_bytes()
    return 0

"""The crawl: a producer walks the project list and fills a bounded queue; workers drain it.

Ownership, one step each (numbers as in ``crawler/__init__.py``):

2. :func:`~crawler.crawl.snapshot.open_snapshot` picks the snapshot;
   :class:`~crawler.crawl.feed.FeedStep` reads the Activity Feed for it (2b);
   :class:`~crawler.crawl.holds.HeldProjects` reads the legal holds in force (2c).
3. :class:`~crawler.crawl.listing.Listing` walks the list into the index and,
   side by side, feeds the queue from the index in the order listed.
4. The bounded queue holds projects waiting for a worker: memory stays flat
   however long the list.
5-9. :class:`~crawler.crawl.project.ProjectFetcher` fetches one project whole;
   :class:`~crawler.crawl.stats.RunStats` records its outcome; held projects'
   objects are held before the manifest (9b, :meth:`HeldProjects.catch_up`). In a
   bucket, the workers' PUTs go out from this loop (``ObjectStore.uploading``).
10. :func:`~crawler.crawl.manifest.write_snapshot_manifest` writes the manifest.

A stop request (SIGINT/SIGTERM) stops the producer, gives in-flight projects a
grace period, then cancels them; every write is atomic, so a cancelled worker
leaves at most a temporary file that the next run sweeps.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from crawler.api.client import ComplianceClient
from crawler.api.endpoints import ComplianceApi
from crawler.archive import Archive, SnapshotRow
from crawler.canonical import utc_now
from crawler.config import Settings
from crawler.crawl.feed import FeedStep, FeedVerdict
from crawler.crawl.holds import HeldProjects
from crawler.crawl.listing import Listing
from crawler.crawl.manifest import write_snapshot_manifest
from crawler.crawl.project import ProjectFetcher
from crawler.crawl.snapshot import open_snapshot
from crawler.crawl.stats import RunStats
from crawler.crawl.work import ProjectJob, SharedWork
from crawler.errors import FatalError, ListWalkError, SkipItemError
from crawler.progress import Progress

__all__ = ["STOP_GRACE_SECONDS", "Crawl", "RunResult"]

STOP_GRACE_SECONDS = 5.0
_DONE = object()


def _feed_failed(err: SkipItemError) -> ListWalkError:
    """Without the whole feed window an incremental cannot say what it carries is
    current: stop (exit 1); a rerun continues at the stored cursor."""
    return ListWalkError(
        f"reading the activity feed failed: {err.message}", request_id=err.request_id
    )


async def _first(*aws: asyncio.Future[Any]) -> None:
    await asyncio.wait(aws, return_when=asyncio.FIRST_COMPLETED)


@dataclass
class RunResult:
    snapshot_id: str
    status: str  # complete | partial | interrupted
    manifest: dict[str, Any] | None
    resumed: bool
    failures: list[dict[str, Any]] = field(default_factory=list)
    pace: str = ""  # this run against the budget's floor, for the summary (set by app)


class Crawl:
    def __init__(
        self,
        settings: Settings,
        client: ComplianceClient,
        archive: Archive,
        progress: Progress,
        *,
        listing: type[Listing] = Listing,  # crawler watch: its changes cycle's
        feed_types: tuple[str, ...] = (),  # event types read besides the project changes
        manifest_extra: dict[str, Any] | None = None,  # crawler watch: its verify slice
        # crawler watch: a full walk stored as a delta of its parent (index.compact_into_delta)
        before_manifest: Callable[[SnapshotRow], object] | None = None,
    ) -> None:
        self.settings = settings
        self.client = client
        self.archive = archive
        self.index = archive.index
        self.progress = progress
        self.shared = SharedWork()
        self._stop = asyncio.Event()
        self._run_started = utc_now()
        self._snapshot: SnapshotRow | None = None
        self._parent: SnapshotRow | None = None
        self._stats: RunStats | None = None
        self._fatal: BaseException | None = None
        self._busy: set[asyncio.Task[Any]] = set()  # workers in the middle of a project
        self.feed = FeedStep(
            ComplianceApi(client),
            archive,
            organization_ids=settings.filters.organization_ids,
            settle_seconds=settings.feed_settle_seconds,
            overlap_seconds=settings.feed_overlap_seconds,
            require=settings.require_feed,
            extra_types=feed_types,
        )
        self._listing = listing
        self._manifest_extra = manifest_extra or {}
        self._before_manifest = before_manifest
        self._verdict = FeedVerdict("full")
        self._held = HeldProjects(archive)  # legal holds in force (a bucket's only)

    @property
    def snapshot_id(self) -> str | None:
        return self._snapshot.id if self._snapshot else None

    def request_stop(self) -> None:
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    # -- the run ------------------------------------------------------------------------

    async def run(self) -> RunResult:
        try:
            snapshot, resumed = await open_snapshot(
                self.archive, self.settings, self._run_started, self.feed
            )
        except SkipItemError as err:  # the feed's first page, before anything is written
            raise _feed_failed(err) from err
        self._snapshot = snapshot
        if snapshot.parent_id:
            self._parent = self.index.get_snapshot(snapshot.parent_id)
        self._stats = stats = RunStats(
            self.archive,
            snapshot,
            self.client.stats.snapshot,
            self._run_started,
            pacing=self.client.limiter.summary,
        )
        self.progress.start(snapshot.id, resumed=resumed, incremental=bool(snapshot.parent_id))
        for note in self.feed.notes:
            self.progress.log("feed", note)
        self._verdict = await self._read_feed(snapshot)
        self._held.refresh()
        if self.stopping:
            stats.save("interrupted")
            return RunResult(snapshot.id, "interrupted", None, resumed)
        queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=self.settings.concurrency * 2)
        fetcher = self._fetcher(snapshot.id)
        workers = [
            asyncio.create_task(self._work(queue, fetcher, stats), name=f"worker-{i}")
            for i in range(self.settings.concurrency)
        ]
        listing = self._listing(
            ComplianceApi(self.client),
            self.archive,
            self.settings,
            stats,
            self.progress,
            lambda: self.stopping,
            self._parent,
            self._verdict,
        )
        producer = asyncio.create_task(listing.produce(queue, snapshot, resumed), name="producer")
        stats_task = asyncio.create_task(stats.save_periodically())
        stop_wait = asyncio.create_task(self._stop.wait())
        try:
            async with self.archive.store.uploading():  # a bucket's PUTs from this loop
                if not await self._supervise(producer, workers, queue, stop_wait):
                    return RunResult(snapshot.id, "interrupted", None, resumed)
            return self._finish(snapshot, resumed)
        finally:
            stop_wait.cancel()
            stats_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await stats_task

    async def _supervise(
        self,
        producer: asyncio.Task[Any],
        workers: list[asyncio.Task[Any]],
        queue: asyncio.Queue[Any],
        stop_wait: asyncio.Task[Any],
    ) -> bool:
        """Steps 3-9 until the list is done (True) or a stop (False); every worker has
        ended when this returns, so nothing is still uploading."""
        stats = self._stats
        assert stats is not None
        try:
            await self._drive(producer, workers, queue, stop_wait)
            if self.stopping:
                await self._wind_down(producer, workers)
                stats.save("interrupted")
                return False
            return True
        except BaseException as exc:
            await self._wind_down(producer, workers, grace=0)
            stats.save("interrupted" if isinstance(exc, asyncio.CancelledError) else "failed")
            raise

    async def _read_feed(self, snapshot: SnapshotRow) -> FeedVerdict:
        """Step 2b: the rest of the feed window; then which projects it names."""
        try:
            return await self.feed.read_rest(snapshot, lambda: self.stopping)
        except SkipItemError as err:
            raise _feed_failed(err) from err

    def _fetcher(self, snapshot_id: str) -> ProjectFetcher:
        return ProjectFetcher(
            self.client,
            self.archive,
            snapshot_id,
            files=self.settings.files,
            document_metadata=self.settings.document_metadata,
            shared=self.shared,
            on_event=self.progress.item,
            held=self._held.covers,
        )

    async def _drive(
        self,
        producer: asyncio.Task[Any],
        workers: list[asyncio.Task[Any]],
        queue: asyncio.Queue[Any],
        stop_wait: asyncio.Task[Any],
    ) -> None:
        """Until the list is walked and drained, or a stop; a failed walk or worker raises."""
        await _first(producer, stop_wait)
        if producer.done() and not producer.cancelled() and producer.exception() is None:
            if not self.stopping:
                for _ in workers:
                    await queue.put(_DONE)
                await _first(asyncio.gather(*workers), stop_wait)
        elif producer.done() and not producer.cancelled():
            error = producer.exception()
            assert error is not None
            if isinstance(error, SkipItemError):
                # The list itself could not be walked: the snapshot cannot be complete,
                # but everything stored so far stays and a rerun resumes at the watermark.
                raise ListWalkError(
                    f"listing projects failed: {error.message}", request_id=error.request_id
                )
            raise error
        if self._fatal is not None:
            raise self._fatal

    async def _wind_down(
        self,
        producer: asyncio.Task[Any],
        workers: list[asyncio.Task[Any]],
        grace: float = STOP_GRACE_SECONDS,
    ) -> None:
        producer.cancel()
        # Only the workers mid-project: an idle one waits on an empty queue for ever.
        pending = [w for w in workers if not w.done() and w in self._busy]
        if pending and grace > 0:
            # Workers check the stop flag between projects; give the ones mid-project a
            # moment to finish so their requests are not wasted.
            await asyncio.wait(pending, timeout=grace)
        for task in [producer, *workers]:
            task.cancel()
        await asyncio.gather(producer, *workers, return_exceptions=True)

    # -- 5-9. workers ------------------------------------------------------------------

    async def _work(
        self, queue: asyncio.Queue[Any], fetcher: ProjectFetcher, stats: RunStats
    ) -> None:
        while True:
            if self.stopping:
                return  # not back to queue.get(): the wind-down waits for this task to end
            job = await queue.get()
            try:
                if job is _DONE:
                    return
                if self.stopping:
                    continue  # drain without work so the producer can exit
                await self._one(job, fetcher, stats)
            except (FatalError, SkipItemError) as err:
                self._fatal = err
                self.request_stop()
                return
            except Exception as err:  # a bug must stop the run, not silently shrink the pool
                self._fatal = err
                self.request_stop()
                return
            finally:
                queue.task_done()

    async def _one(self, job: ProjectJob, fetcher: ProjectFetcher, stats: RunStats) -> None:
        me = asyncio.current_task()
        assert me is not None
        self._busy.add(me)
        try:
            with self.progress.fetching():
                outcome = await fetcher.fetch(job)
        finally:
            self._busy.discard(me)
        # With the project, in one transaction: after a kill -9 nothing counted is lost.
        stats.record(job.project_id, outcome, job.replaces)
        self.progress.project(outcome.state, failures=len(outcome.failures))

    # -- 10. the manifest ---------------------------------------------------------------

    def _finish(self, snapshot: SnapshotRow, resumed: bool) -> RunResult:
        assert self._stats is not None
        self._held.catch_up(snapshot.id)  # step 9b: before the manifest, as a killed run left it
        if self._before_manifest is not None:
            self._before_manifest(snapshot)
        header = write_snapshot_manifest(
            self.archive,
            self.settings,
            snapshot,
            self._parent,
            self._stats,
            self.feed,
            self._verdict,
            extra=self._manifest_extra,
        )
        return RunResult(snapshot.id, header["status"], header, resumed, header["failures"])

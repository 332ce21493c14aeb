"""The crawl: a producer walks the project list into a bounded queue; workers drain it.

Ownership, one step each (numbers as in ``crawler/__init__.py``):

2. ``Crawl._open_snapshot`` decides what this run continues: the unfinished
   snapshot with the same filters, or a new one (``--restart`` abandons the old).
3. ``Crawl._produce`` walks the list at ``limit=100``, stores each page, records
   its projects and the ``created_at`` watermark in one transaction, and only
   then asks for the next page. On resume it restarts from the watermark (page
   tokens may have expired) and skips ids it already has. In an incremental
   snapshot a project whose list entry is unchanged is carried without a request.
4. The bounded queue holds projects waiting for a worker: memory stays flat
   however long the list.
5-9. ``ProjectFetcher`` (``crawler/fetcher.py``) fetches one project whole.
10. ``Crawl._finish`` writes the manifest once every project is accounted for.

A stop request (SIGINT/SIGTERM) stops the producer, gives in-flight projects a
grace period, then cancels them; every write is atomic, so a cancelled worker
leaves at most a temporary file that the next run sweeps.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from crawler import __version__
from crawler.api.client import ComplianceClient
from crawler.archive import Archive, new_snapshot_id
from crawler.archive.index import ProjectRow, SnapshotRow
from crawler.archive.records import Record
from crawler.config import Settings
from crawler.errors import FatalError, ListWalkError, SkipItemError
from crawler.fetcher import (
    PAGE_LIMIT,
    PROJECTS,
    Outcome,
    ProjectFetcher,
    ProjectJob,
    SharedWork,
    fetch_json,
)
from crawler.progress import Progress

STOP_GRACE_SECONDS = 5.0
# A run killed with SIGKILL loses the request counts since its last save: at most this long.
STATS_EVERY_SECONDS = 1.0
_DONE = object()


async def _first(*aws: asyncio.Future[Any]) -> None:
    await asyncio.wait(aws, return_when=asyncio.FIRST_COMPLETED)


def utcnow() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(obj: Any) -> bytes:
    return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)


@dataclass
class RunResult:
    snapshot_id: str
    status: str  # complete | partial | interrupted
    manifest: dict[str, Any] | None
    resumed: bool
    failures: list[dict[str, Any]] = field(default_factory=list)


class Crawl:
    def __init__(
        self, settings: Settings, client: ComplianceClient, archive: Archive, progress: Progress
    ) -> None:
        self.settings = settings
        self.client = client
        self.archive = archive
        self.index = archive.index
        self.progress = progress
        self.shared = SharedWork()
        self._stop = asyncio.Event()
        self._run_started = utcnow()
        self._run_id = self._run_started
        self._snapshot: SnapshotRow | None = None
        self._parent: SnapshotRow | None = None
        self._fatal: BaseException | None = None
        self._earlier_runs: list[dict[str, Any]] = []
        self._busy: set[asyncio.Task[Any]] = set()  # workers in the middle of a project

    @property
    def snapshot_id(self) -> str | None:
        return self._snapshot.id if self._snapshot else None

    def request_stop(self) -> None:
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    # -- 2. which snapshot ----------------------------------------------------------------

    def _open_snapshot(self) -> tuple[SnapshotRow, bool]:
        key = self.settings.filters.key()
        current = self.index.find_running(key)
        if current is None:
            latest = self.index.latest_finished(key)
            # A snapshot that finished with failures is continued: the rerun retries them.
            if latest is not None and latest.status == "partial" and not self.settings.incremental:
                current = latest
        if current is not None and self.settings.restart:
            self.index.set_snapshot_status(current.id, "abandoned", finished_at=utcnow())
            current = None
        if current is not None:
            if current.status == "partial":
                self.archive.reopen_snapshot(current.id)  # its manifest is rewritten at the end
            else:
                self.index.set_snapshot_status(current.id, "running")
            return self.index.get_snapshot(current.id), True
        parent = self.index.latest_finished(key) if self.settings.incremental else None
        snapshot_id = new_snapshot_id()
        self.index.create_snapshot(
            snapshot_id,
            filters=self.settings.filters.to_json(),
            filter_key=key,
            settings=self.settings.public(),
            incremental=parent is not None,
            parent_id=parent.id if parent else None,
            started_at=self._run_started,
        )
        return self.index.get_snapshot(snapshot_id), False

    # -- the run ------------------------------------------------------------------------

    async def run(self) -> RunResult:
        snapshot, resumed = self._open_snapshot()
        self._snapshot = snapshot
        self._load_earlier_runs(snapshot)
        if snapshot.parent_id:
            self._parent = self.index.get_snapshot(snapshot.parent_id)
        self.progress.start(snapshot.id, resumed=resumed, incremental=bool(snapshot.parent_id))
        fetcher = ProjectFetcher(
            self.client,
            self.archive,
            snapshot.id,
            files=self.settings.files,
            document_metadata=self.settings.document_metadata,
            shared=self.shared,
            on_event=self.progress.item,
        )
        queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=self.settings.concurrency * 2)
        workers = [
            asyncio.create_task(self._work(queue, fetcher), name=f"worker-{i}")
            for i in range(self.settings.concurrency)
        ]
        producer = asyncio.create_task(self._produce(queue, snapshot, resumed), name="producer")
        stats_task = asyncio.create_task(self._save_stats_periodically())
        stop_wait = asyncio.create_task(self._stop.wait())
        try:
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
            if self.stopping:
                await self._wind_down(producer, workers)
                self._save_stats("interrupted")
                return RunResult(snapshot.id, "interrupted", None, resumed)
            return self._finish(snapshot, resumed)
        except BaseException as exc:
            await self._wind_down(producer, workers, grace=0)
            self._save_stats("interrupted" if isinstance(exc, asyncio.CancelledError) else "failed")
            raise
        finally:
            stop_wait.cancel()
            stats_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await stats_task

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

    # -- 3. the producer ----------------------------------------------------------------

    async def _produce(
        self, queue: asyncio.Queue[Any], snapshot: SnapshotRow, resumed: bool
    ) -> None:
        filters = self.settings.filters
        if resumed:
            # Projects listed before the interruption but not finished go first.
            for row in self.index.projects(snapshot.id, states=("listed", "failed", "partial")):
                if self.stopping:
                    return
                self.index.clear_failures(snapshot.id, row.project_id)
                await self._dispatch(queue, snapshot, row.list_entry, row.list_page or {})
        query = filters.query()
        watermark = snapshot.watermark if resumed else None
        if watermark:
            # Restart the walk at the last stored created_at: ties are re-listed and
            # skipped by id, and no page token (which may have expired) is needed.
            query = [kv for kv in query if kv[0] != "created_at.gte"]
            query.append(("created_at.gte", watermark))
        cursor: str | None = None
        while not self.stopping:
            page = await self.client.get_page("projects.list", PROJECTS, query, cursor, PAGE_LIMIT)
            stored = await self.archive.blobs.put(page.fetched.body, "json")
            page_fetch = fetch_json(page.fetched, stored.ref)
            # The index says which ids are new to this snapshot (ties re-listed after a
            # resume are not), so no set of every id is held in memory.
            fresh = [e for e in page.items if isinstance(e, dict)]
            last_created = next(
                (
                    str(e["created_at"])
                    for e in reversed(page.items)
                    if isinstance(e, dict) and e.get("created_at")
                ),
                None,
            )
            new_ids = set(
                self.index.record_list_page(
                    snapshot.id,
                    fresh,
                    watermark=last_created,
                    request_id=page.fetched.request_id,
                    page=page_fetch,
                )
            )
            self.progress.listed(len(new_ids))
            for entry in fresh:
                if entry.get("id") in new_ids:
                    await self._dispatch(queue, snapshot, entry, page_fetch)
            if page.next_page is None:
                return
            cursor = page.next_page

    async def _dispatch(
        self,
        queue: asyncio.Queue[Any],
        snapshot: SnapshotRow,
        entry: dict[str, Any],
        page_fetch: dict[str, Any],
    ) -> None:
        """Carry an unchanged project (incremental), or queue it for a worker."""
        earlier = self._carry(entry)
        if earlier is None or earlier.record is None:
            await queue.put(ProjectJob(entry, page_fetch))
        elif not self.settings.refresh_collaborators or earlier.state == "gone":
            # A project that answered 404 stays gone while its entry is unchanged.
            state = "gone" if earlier.state == "gone" else "carried"
            self.index.set_project(snapshot.id, earlier.project_id, state, earlier.record)
            self.progress.project(state)
        else:
            # One collaborator walk decides: unchanged grants, carried; else fetched whole.
            await queue.put(ProjectJob(entry, page_fetch, earlier=earlier.record))

    def _carry(self, entry: dict[str, Any]) -> ProjectRow | None:
        """Incremental: the earlier row of a project whose list entry is unchanged (see README)."""
        if self._parent is None:
            return None
        old = self.index.get_project(self._parent.id, str(entry["id"]))
        if old is None or old.state not in ("done", "carried", "gone") or old.record is None:
            return None
        if canonical(old.list_entry) != canonical(entry):
            return None
        return old

    # -- 5-9. workers ------------------------------------------------------------------

    async def _work(self, queue: asyncio.Queue[Any], fetcher: ProjectFetcher) -> None:
        assert self._snapshot is not None
        snapshot_id = self._snapshot.id
        while True:
            if self.stopping:
                return  # not back to queue.get(): the wind-down waits for this task to end
            job = await queue.get()
            try:
                if job is _DONE:
                    return
                if self.stopping:
                    continue  # drain without work so the producer can exit
                me = asyncio.current_task()
                assert me is not None
                self._busy.add(me)
                try:
                    outcome = await fetcher.fetch(job)
                finally:
                    self._busy.discard(me)
                self._record(snapshot_id, job.project_id, outcome)
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

    def _record(self, snapshot_id: str, project_id: str, outcome: Outcome) -> None:
        self.index.set_project(snapshot_id, project_id, outcome.state, outcome.record)
        for f in outcome.failures:
            self.index.add_failure(
                snapshot_id,
                project_id=project_id,
                kind=str(f["kind"]),
                item_id=f.get("id"),
                reason=str(f["reason"]),
                status=f.get("status"),
                error_type=f.get("error_type"),
                request_id=f.get("request_id"),
            )
        self.progress.project(outcome.state, failures=len(outcome.failures))
        # With the project: after a kill -9 the counts lack only the work that is redone.
        self._save_stats(None)

    # -- stats across runs --------------------------------------------------------------

    def _load_earlier_runs(self, snapshot: SnapshotRow) -> None:
        """The runs before this one, read once: they cannot change while this one runs."""
        self._earlier_runs = [dict(r) for r in (snapshot.stats or {}).get("runs", [])]
        for r in self._earlier_runs:
            if r.get("outcome") == "running":  # still "running" when we started: it was killed
                r["outcome"] = "killed"

    def _save_stats(self, outcome: str | None) -> dict[str, Any]:
        assert self._snapshot is not None
        runs = list(self._earlier_runs)
        runs.append(
            {
                "run_id": self._run_id,
                "started_at": self._run_started,
                "ended_at": utcnow() if outcome else None,
                "outcome": outcome or "running",
                "tool_version": __version__,
                "requests": self.client.stats.snapshot(),
            }
        )
        stats = {"runs": runs}
        self.index.save_stats(self._snapshot.id, stats)
        return stats

    async def _save_stats_periodically(self) -> None:
        while True:
            self._save_stats(None)  # at once: a run killed early is still on record
            await asyncio.sleep(STATS_EVERY_SECONDS)

    # -- 10. the manifest ---------------------------------------------------------------

    def _finish(self, snapshot: SnapshotRow, resumed: bool) -> RunResult:
        """Write the manifest in two streaming passes: memory stays flat at any size."""
        failures = self.index.failures(snapshot.id)
        by_state = self.index.count_projects(snapshot.id)
        unfinished = (
            by_state.get("listed", 0) + by_state.get("failed", 0) + by_state.get("partial", 0)
        )
        # md5_collision entries are reports (both bodies kept), not items to retry.
        retry = [f for f in failures if f["kind"] != "md5_collision"]
        status = "partial" if unfinished or retry else "complete"
        stats = self._save_stats(status)
        snap = self.index.get_snapshot(snapshot.id)
        totals = {"documents": 0, "files": 0, "collaborators": 0, "attachments": 0, "bytes": 0}
        for row in self.index.projects(snapshot.id):
            if row.record is None:
                continue
            record = Record(self.archive.read_record(row.record))
            counts = record.counts
            for k in ("documents", "files", "collaborators", "attachments"):
                totals[k] += counts.get(k, 0)
            # Bytes of the bodies this snapshot refers to; a body shared by two
            # projects counts twice (the blob store holds it once).
            totals["bytes"] += record.body_bytes()
        removed: list[str] = []
        if self._parent is not None:
            removed = [
                r.project_id
                for r in self.index.projects(self._parent.id)
                if r.state != "gone" and self.index.get_project(snapshot.id, r.project_id) is None
            ]
        header: dict[str, Any] = {
            "manifest_format": 1,
            "snapshot_id": snapshot.id,
            "tool": {"name": "crawler", "version": __version__},
            "status": status,
            "incremental": bool(snap.parent_id),
            "parent_id": snap.parent_id,
            "filters": snap.filters,
            "settings": self.settings.public(),
            "started_at": snap.started_at,
            "finished_at": utcnow(),
            "runs": [
                {k: r[k] for k in ("started_at", "ended_at", "outcome")} for r in stats["runs"]
            ],
            "list_walk": {
                "pages": snap.list_pages,
                "records": sum(by_state.values()),
                "final_request_id": snap.last_page_request_id,
            },
            "counts": {
                "projects": sum(by_state.values()),
                **{
                    s: by_state.get(s, 0)
                    for s in ("done", "partial", "gone", "failed", "carried", "listed")
                },
                **totals,
                "removed_since_parent": len(removed),
            },
            "requests": merge_request_stats(r["requests"] for r in stats["runs"]),
            "failures": failures,
            "removed_since_parent": removed,
        }
        entries = (
            {
                "id": row.project_id,
                "state": row.state,
                "record": row.record.to_json() if row.record else None,
            }
            for row in self.index.projects(snapshot.id)
        )
        self.archive.write_manifest_stream(snapshot.id, header, entries)
        self.index.set_snapshot_status(snapshot.id, status, finished_at=header["finished_at"])
        return RunResult(snapshot.id, status, header, resumed, failures)


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


__all__ = ["Crawl", "RunResult", "merge_request_stats"]

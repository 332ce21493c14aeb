"""Step 2: which snapshot this run writes into.

The unfinished snapshot with the same filters is continued (a ``partial`` one
too, so a rerun retries its failures, unless the run is incremental); with
``--restart`` it is abandoned instead. Otherwise a new snapshot starts; an
incremental one takes the latest finished snapshot with the same filters as its
parent. The feed step decides its mode first (``FeedStep.begin``): a key without
the feed's scope under ``--require-feed`` stops the run before anything is written.
"""

from __future__ import annotations

from crawler.archive import Archive, SnapshotRow, new_snapshot_id
from crawler.canonical import utc_now
from crawler.config import Settings
from crawler.crawl.feed import FeedStep

__all__ = ["open_snapshot"]


async def open_snapshot(
    archive: Archive, settings: Settings, started_at: str, feed: FeedStep
) -> tuple[SnapshotRow, bool]:
    """(the snapshot, resumed?): continue the unfinished one, or start a new one."""
    index = archive.index
    key = settings.filters.key()
    current = index.find_running(key)
    if current is None:
        latest = index.latest_finished(key)
        # A snapshot that finished with failures is continued: the rerun retries them.
        if latest is not None and latest.status == "partial" and not settings.incremental:
            current = latest
    if current is not None and settings.restart:
        index.set_snapshot_status(current.id, "abandoned", finished_at=utc_now())
        current = None
    if current is not None:
        if current.status == "partial":
            archive.reopen_snapshot(current.id)  # its manifest is rewritten at the end
        else:
            index.set_snapshot_status(current.id, "running")
        resumed = index.get_snapshot(current.id)
        parent_row = index.get_snapshot(resumed.parent_id) if resumed.parent_id else None
        await feed.resume(resumed, parent_row)
        return resumed, True
    parent = index.latest_finished(key) if settings.incremental else None
    begun = await feed.begin(parent, started_at)  # before anything is written
    snapshot_id = new_snapshot_id()
    index.create_snapshot(
        snapshot_id,
        filters=settings.filters.to_json(),
        filter_key=key,
        settings=settings.public(),
        incremental=parent is not None,
        parent_id=parent.id if parent else None,
        started_at=started_at,
    )
    snapshot = index.get_snapshot(snapshot_id)
    await feed.start(snapshot, begun)
    return snapshot, False

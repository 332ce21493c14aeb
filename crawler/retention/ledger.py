"""Which projects a snapshot no longer has because retention deleted them (with the receipt).

The crawl's manifest asks this when a snapshot ends, so that a project deleted
by ``crawler retention apply`` is recorded as *deleted by retention*, with its
receipt, and not as having vanished. Only projects the previous finished
snapshot with the same filters still had are reported, so each deletion is
reported once, by the first snapshot taken after it.
"""

from __future__ import annotations

from typing import Any

from crawler.archive import Archive
from crawler.archive.index import SnapshotRow
from crawler.retention.bucket import open_retention_reader


def deleted_by_retention(
    archive: Archive, snapshot_id: str, previous: SnapshotRow | None
) -> list[dict[str, Any]]:
    if previous is None:
        return []
    index = archive.index
    with open_retention_reader(archive) as store:
        rows = [r for r in store.receipts("project") if r.outcome == "deleted"]
    out: list[dict[str, Any]] = []
    for receipt in rows:
        before = index.get_project(previous.id, receipt.item_id)
        if before is None or before.state == "gone":
            continue
        now = index.get_project(snapshot_id, receipt.item_id)
        if now is not None and now.state != "gone":
            continue  # listed again: not deleted after all (a reused id would show here)
        out.append(
            {
                "id": receipt.item_id,
                "deleted_at": receipt.at,
                "plan_sha256": receipt.plan_sha256,
                "receipt": receipt.blob.to_json(),
            }
        )
    return out

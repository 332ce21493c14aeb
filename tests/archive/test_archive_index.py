"""The index: list pages, project ordering by instant, run state."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from crawler.archive import Archive, BlobRef
from crawler.archive.index import Index, instant_key
from crawler.errors import ArchiveError

SID = "20261123T101500Z-a1b2c3"
SID2 = "20261124T101500Z-d4e5f6"


@pytest.fixture
def index(tmp_path: Path) -> Iterator[Index]:
    with Archive.open_for_writing(tmp_path / "arc") as archive:
        yield archive.index


def new_snapshot(index: Index, sid: str = SID, key: str = "{}", started: str | None = None) -> None:
    index.create_snapshot(
        sid,
        filters={"organization_ids": []},
        filter_key=key,
        settings={"files": True},
        incremental=False,
        parent_id=None,
        started_at=started or f"{sid[:4]}-{sid[4:6]}-{sid[6:8]}T10:15:00Z",
    )


def entry(pid: str, created: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": pid,
        "created_at": created,
        "updated_at": created,
        "organization_id": "org_1",
        "organization_uuid": "uuid-1",
        "user": {"id": "user_1", "email_address": "a@example.com"},
        "deleted_at": None,
        **extra,
    }


def test_instant_key_compares_instants() -> None:
    forms = [
        "2025-01-01T00:00:00Z",
        "2025-01-01T00:00:00.000000Z",
        "2025-01-01T00:00:00+00:00",
        "2025-01-01T01:00:00+01:00",
        "2024-12-31T19:00:00-05:00",
    ]
    assert len({instant_key(f) for f in forms}) == 1
    assert instant_key("2025-01-01T00:00:00.5+00:00") > instant_key("2025-01-01T00:00:00Z")
    assert instant_key("2025-01-01T00:00:00.123456789Z") > instant_key(
        "2025-01-01T00:00:00.123456Z"
    )
    assert instant_key("not a time") > instant_key("9999-12-31T23:59:59Z")


def test_record_list_page_is_idempotent(index: Index) -> None:
    new_snapshot(index)
    page = [entry("p1", "2025-01-01T00:00:00Z"), entry("p2", "2025-01-02T00:00:00Z")]
    assert index.record_list_page(SID, page, watermark="2025-01-02T00:00:00Z", request_id="r1") == [
        "p1",
        "p2",
    ]
    # The same page again (a resume refetched it) adds nothing, but counts the page.
    assert (
        index.record_list_page(SID, page, watermark="2025-01-02T00:00:00Z", request_id="r2") == []
    )
    page2 = [
        entry("p2", "2025-01-02T00:00:00Z"),
        {**entry("p3", "2025-01-03T00:00:00Z"), "user": None},
    ]
    assert index.record_list_page(
        SID, page2, watermark="2025-01-03T00:00:00Z", request_id="r3"
    ) == ["p3"]
    # An empty page (allowed mid-walk) keeps the watermark.
    assert index.record_list_page(SID, [], watermark=None, request_id="r4") == []
    snap = index.get_snapshot(SID)
    assert snap.list_pages == 4
    assert snap.watermark == "2025-01-03T00:00:00Z"
    assert snap.last_page_request_id == "r4"
    assert index.project_ids(SID) == {"p1", "p2", "p3"}
    p3 = index.get_project(SID, "p3")
    assert p3 is not None
    assert p3.user_id is None and p3.user_email is None and p3.state == "listed"
    assert p3.list_entry["user"] is None
    p1 = index.get_project(SID, "p1")
    assert p1 is not None
    assert (p1.user_id, p1.user_email, p1.organization_uuid) == (
        "user_1",
        "a@example.com",
        "uuid-1",
    )
    assert index.count_projects(SID) == {"listed": 3}
    with pytest.raises(ArchiveError, match="unknown snapshot"):
        index.record_list_page(SID2, page, watermark=None, request_id=None)


def test_projects_ordered_by_instant_then_id(index: Index) -> None:
    new_snapshot(index)
    page = [
        entry("b", "2025-01-01T00:00:00.5+00:00"),
        entry("a", "2025-01-01T00:00:00.5Z"),
        entry("c", "2025-01-01T00:00:00Z"),
        entry("d", "2025-01-01T00:30:00+01:00"),  # 23:30 the day before
    ]
    index.record_list_page(SID, page, watermark=None, request_id=None)
    assert [p.project_id for p in index.projects(SID)] == ["d", "c", "a", "b"]


def test_project_state_records_and_filters(index: Index) -> None:
    new_snapshot(index)
    index.record_list_page(
        SID,
        [entry(f"p{i}", f"2025-01-0{i}T00:00:00Z") for i in range(1, 5)],
        watermark=None,
        request_id=None,
    )
    ref = BlobRef("a" * 32, "b" * 64, 10)
    index.set_project(SID, "p1", "done", ref)
    index.mark_projects(SID, ["p2", "p3"], "failed")
    row = index.get_project(SID, "p1")
    assert row is not None and row.record == ref and row.state == "done"
    assert [p.project_id for p in index.projects(SID, states={"failed"})] == ["p2", "p3"]
    assert list(index.projects(SID, states=[])) == []
    assert index.count_projects(SID) == {"done": 1, "failed": 2, "listed": 1}
    assert index.get_project(SID, "nope") is None
    with pytest.raises(ArchiveError):
        index.set_project(SID, "nope", "done", None)
    with pytest.raises(ValueError):
        index.set_project(SID, "p1", "bogus", None)


def test_writing_while_iterating_projects(index: Index) -> None:
    new_snapshot(index)
    index.record_list_page(
        SID,
        [entry(f"p{i}", "2025-01-01T00:00:00Z") for i in range(600)],
        watermark=None,
        request_id=None,
    )
    seen = 0
    for row in index.projects(SID, states={"listed"}):
        index.set_project(SID, row.project_id, "gone", None)
        seen += 1
    assert seen == 600
    assert index.count_projects(SID) == {"gone": 600}


def test_snapshots_lookup(index: Index) -> None:
    new_snapshot(index, SID, key="k1")
    new_snapshot(index, SID2, key="k1")
    assert [s.id for s in index.list_snapshots()] == [SID, SID2]
    running = index.find_running("k1")
    assert running is not None and running.id == SID2
    assert index.find_running("k2") is None
    assert index.latest_finished() is None
    index.set_snapshot_status(SID, "partial", finished_at="2026-11-23T11:00:00Z")
    latest = index.latest_finished("k1")
    assert latest is not None and latest.id == SID and latest.finished_at == "2026-11-23T11:00:00Z"
    assert index.latest_finished("k2") is None
    index.save_stats(SID, {"requests": 3})
    snap = index.get_snapshot(SID)
    assert snap.stats == {"requests": 3} and snap.filters == {"organization_ids": []}
    assert snap.settings == {"files": True} and snap.incremental is False
    with pytest.raises(ArchiveError, match="unknown snapshot"):
        index.get_snapshot("20990101T000000Z-000000")
    with pytest.raises(ArchiveError, match="already exists"):
        new_snapshot(index, SID)
    with pytest.raises(ArchiveError, match="malformed snapshot id"):
        new_snapshot(index, "../../etc")


def test_documents_and_failures(index: Index) -> None:
    new_snapshot(index)
    assert index.get_document(SID, "doc1") is None
    index.put_document(SID, "doc1", {"id": "doc1", "text": None})
    assert index.get_document(SID, "doc1") == {"id": "doc1", "text": None}
    common: dict[str, Any] = {"status": 503, "error_type": "overloaded_error", "request_id": "r"}
    index.add_failure(SID, project_id="p1", kind="file", item_id="f1", reason="x", **common)
    index.add_failure(SID, project_id="p2", kind="file", item_id="f2", reason="y", **common)
    index.add_failure(
        SID,
        project_id=None,
        kind="md5_collision",
        item_id=None,
        reason="z",
        status=None,
        error_type=None,
        request_id=None,
    )
    failures = index.failures(SID)
    assert [f["item_id"] for f in failures] == ["f1", "f2", None]
    assert failures[0]["status"] == 503 and failures[0]["at"]
    index.clear_failures(SID, "p1")
    assert [f["project_id"] for f in index.failures(SID)] == ["p2", None]


def test_schema_and_pragmas(index: Index, tmp_path: Path) -> None:
    import sqlite3

    conn = sqlite3.connect(tmp_path / "arc" / "index.sqlite")
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert tables == {
            "meta",
            "blobs",
            "snapshots",
            "snapshot_projects",
            "snapshot_documents",
            "failures",
            "snapshot_feed",  # crawler/archive/feed_rows.py
            "feed_events",
            "snapshot_deltas",  # crawler/archive/deltas.py (crawler watch)
        }
    finally:
        conn.close()

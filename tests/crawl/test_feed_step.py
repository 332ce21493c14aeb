"""The feed step's I/O, narrowly (aioresponses): pages by after_id, stored before the
cursor moves, deduplicated against the parent; 403 is "unavailable" or, required, fatal.

The whole behaviour against the simulator's real feed is tests/test_feed_incremental.py.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest
from aioresponses import aioresponses

from crawler.api.client import ComplianceClient
from crawler.api.endpoints import ComplianceApi
from crawler.api.model import ClientConfig
from crawler.api.retry import RetryPolicy
from crawler.archive import Archive
from crawler.archive.refs import BlobRef
from crawler.crawl.feed import FeedStep
from crawler.errors import FeedRequiredError, ScopeError

BASE = "http://api.test"
KEY = "sk-ant-api01-feedstep.key-0123456789"
FEED = re.compile(re.escape(BASE + "/v1/compliance/activities") + r"(\?.*)?$")


@pytest.fixture
async def client() -> AsyncIterator[ComplianceClient]:
    config = ClientConfig(base_url=BASE, api_key=KEY, rate=None, max_attempts=1, trust_env=False)
    async with ComplianceClient(config, policy=RetryPolicy(max_attempts=1)) as c:
        yield c


@pytest.fixture
def archive(tmp_path: Path) -> Iterator[Archive]:
    arc = Archive.open_for_writing(tmp_path / "arc")
    try:
        yield arc
    finally:
        arc.close()


def event(i: int, project: str) -> dict[str, Any]:
    return {
        "id": f"act_{i:03d}",
        "created_at": f"2026-11-28T10:00:{i:02d}Z",
        "type": "claude_project_document_updated",
        "claude_project_id": project,
        "claude_project_document_id": f"claude_proj_doc_{i}",
        "actor": {"type": "user_actor", "user_id": "u1", "email_address": "a@b.c"},
        "future_field": [1, 2],
    }


def page(events: list[dict[str, Any]], has_more: bool) -> bytes:
    return orjson.dumps(
        {
            "data": events,
            "first_id": events[0]["id"] if events else None,
            "last_id": events[-1]["id"] if events else None,
            "has_more": has_more,
        }
    )


def snapshot(archive: Archive, sid: str, parent: str | None) -> Any:
    archive.index.create_snapshot(
        sid,
        filters={},
        filter_key="k",
        settings={},
        incremental=parent is not None,
        parent_id=parent,
        started_at="2026-11-28T11:00:00Z",
    )
    return archive.index.get_snapshot(sid)


def step(client: ComplianceClient, archive: Archive, require: bool = False) -> FeedStep:
    return FeedStep(
        ComplianceApi(client), archive, settle_seconds=0, overlap_seconds=600, require=require
    )


async def test_pages_by_after_id_and_dedupes_against_the_parent(
    client: ComplianceClient, archive: Archive, mocked: aioresponses
) -> None:
    feed = step(client, archive)
    parent = snapshot(archive, "20261128T100000Z-aaaaaa", None)
    begun = await feed.begin(None, "2026-11-28T10:00:00Z")
    assert begun.state["status"] == "full" and begun.first is None
    settled = FeedStep(ComplianceApi(client), archive, settle_seconds=60, overlap_seconds=600)
    full = (await settled.begin(None, "2026-11-28T10:00:00Z")).state["position"]
    assert full == {"until": "2026-11-28T09:59:00.000000Z", "read": False}  # clock margin
    await feed.start(parent, begun)
    # The parent read act_001 already (as if it had read the feed): the overlap repeats it.
    archive.index.add_feed_page(
        parent.id,
        [
            SimpleNamespace(
                activity_id="act_001",
                project_id="claude_proj_a",
                type="t",
                created_at="2026-11-28T10:00:01Z",
                acted=True,
                event={},
            )
        ],
        {**begun.state, "position": {"until": "2026-11-28T10:00:05Z", "read": True}},
    )
    mocked.get(FEED, body=page([event(1, "claude_proj_a"), event(2, "claude_proj_b")], True))
    mocked.get(FEED, body=page([event(2, "claude_proj_b"), event(3, "claude_proj_c")], False))
    begun = await feed.begin(archive.index.get_snapshot(parent.id), "2026-11-28T11:00:00Z")
    assert begun.state["status"] == "read" and begun.first is not None
    child = snapshot(archive, "20261128T110000Z-bbbbbb", parent.id)
    await feed.start(child, begun)
    verdict = await feed.read_rest(child)
    state = archive.index.feed_state(child.id)
    assert state is not None and state["done"] and state["cursor"] == "act_003"
    assert feed.finished(child.id)
    assert verdict.mode == "read" and verdict.fetch_whole("claude_proj_c")
    assert not verdict.fetch_whole("claude_proj_a")

    urls = [str(u) for (_m, u) in mocked.requests]
    q1, q2 = (parse_qs(urlsplit(u).query) for u in urls)
    assert q1["order"] == ["asc"] and q1["limit"] == ["5000"] and "after_id" not in q1
    assert "compliance_api_accessed" not in q1["activity_types[]"]
    assert q1["created_at.gte"] == ["2026-11-28T09:50:05.000000Z"]  # parent position - overlap
    assert q2["after_id"] == ["act_002"]
    # act_001: read by the parent; act_002 twice: at least once. Each acted on once.
    assert verdict.touched == {"claude_proj_b": ["act_002"], "claude_proj_c": ["act_003"]}
    summary = feed.summary(child.id)
    assert summary["events"] == {"read": 3, "acted": 2} and summary["projects"] == 2
    assert len(summary["pages"]) == 2
    # Raw pages kept whole, unknown fields included.
    first = archive.blobs.read(BlobRef.from_json(summary["pages"][0]["blob"]))
    assert b'"future_field"' in first


FORBIDDEN = orjson.dumps(
    {
        "type": "error",
        "error": {
            "type": "permission_error",
            "message": "Missing required scopes. Got: [read:compliance_user_data] "
            "Needed: ['read:compliance_activities']",
        },
    }
)


async def test_a_key_without_the_scope_is_unavailable_or_required(
    client: ComplianceClient, archive: Archive, mocked: aioresponses
) -> None:
    parent = snapshot(archive, "20261128T100000Z-aaaaaa", None)
    feed = step(client, archive)
    await feed.start(parent, await feed.begin(None, "2026-11-28T10:00:00Z"))
    mocked.get(FEED, status=403, body=FORBIDDEN, headers={"request-id": "req_403"})
    begun = await feed.begin(parent, "2026-11-28T11:00:00Z")
    assert begun.state["status"] == "unavailable"
    assert begun.state["missing_scope"] == "read:compliance_activities"
    assert begun.state["request_id"] == "req_403"
    assert "read:compliance_activities" in begun.notes[0] and "carried" in begun.notes[0]

    mocked.get(FEED, status=403, body=FORBIDDEN)
    with pytest.raises(FeedRequiredError) as info:
        await step(client, archive, require=True).begin(parent, "2026-11-28T11:00:00Z")
    assert isinstance(info.value, ScopeError) and info.value.exit_code == 2
    assert "read:compliance_activities" in str(info.value)


def test_an_archive_made_before_the_feed_tables_reads_as_no_feed(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "old"
    Archive.open_for_writing(path).close()
    conn = sqlite3.connect(path / "index.sqlite")
    conn.executescript("DROP TABLE feed_events; DROP TABLE snapshot_feed;")
    conn.close()
    with Archive.open_for_reading(path) as old:  # a reader creates nothing
        assert old.index.feed_state("20261128T100000Z-aaaaaa") is None
        assert old.index.feed_seen_ids("20261128T100000Z-aaaaaa") == set()
        assert list(old.index.project_events("claude_proj_a", ["x"])) == []
    with Archive.open_for_writing(path) as arc:  # a writer gains them
        assert arc.index.feed_touched("20261128T100000Z-aaaaaa") == {}

"""The feed's pure logic: windows, positions, dedupe, which project an event touches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from crawler.canonical import parse_instant
from crawler.crawl.feed_plan import (
    PROJECT_CHANGE_TYPES,
    Digest,
    FeedPosition,
    NoPosition,
    Window,
    plan_window,
    reasons_json,
    touched_project,
)

NOW = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)


def test_no_parent_position_means_fetch_everything() -> None:
    got = plan_window(None, NOW)
    assert isinstance(got, NoPosition)
    assert "no feed position" in got.reason


def test_after_a_full_snapshot_the_window_starts_at_its_start() -> None:
    parent = FeedPosition(until="2026-11-28T10:00:00Z", read=False)
    got = plan_window(parent, NOW, settle_seconds=60, overlap_seconds=600)
    assert got == Window(gte="2026-11-28T10:00:00.000000Z", lt="2026-11-28T11:59:00.000000Z")


def test_after_an_incremental_the_window_reaches_back_an_overlap() -> None:
    parent = FeedPosition(until="2026-11-28T11:00:00.5+00:00", read=True)
    got = plan_window(parent, NOW, settle_seconds=60, overlap_seconds=600)
    assert isinstance(got, Window)
    assert parse_instant(got.gte) == parse_instant("2026-11-28T10:50:00.5Z")
    assert parse_instant(got.lt) == NOW - timedelta(seconds=60)


def test_window_never_ends_before_the_parent_position() -> None:
    parent = FeedPosition(until="2026-11-28T11:59:50Z", read=False)
    got = plan_window(parent, NOW, settle_seconds=60, overlap_seconds=600)
    assert isinstance(got, Window)
    assert got.empty and got.lt == got.gte


def test_a_window_older_than_retention_is_no_position() -> None:
    parent = FeedPosition(until="2020-01-01T00:00:00Z", read=True)
    got = plan_window(parent, NOW)
    assert isinstance(got, NoPosition)
    assert "older than the feed keeps" in got.reason


def test_position_codec_rejects_damage() -> None:
    pos = FeedPosition(until="2026-11-28T10:00:00Z", read=True)
    assert FeedPosition.from_json(pos.to_json()) == pos
    assert FeedPosition.from_json(None) is None
    assert FeedPosition.from_json({"until": "yesterday"}) is None
    assert FeedPosition.from_json({"until": 5}) is None


def test_query_asks_for_project_changes_oldest_first() -> None:
    q = Window(gte="a", lt="b").query(["org_1"])
    types = [v for k, v in q if k == "activity_types[]"]
    assert types == list(PROJECT_CHANGE_TYPES)
    assert "compliance_api_accessed" not in types
    assert not any("viewed" in t for t in types)
    assert ("order", "asc") in q and ("organization_ids[]", "org_1") in q
    assert ("created_at.gte", "a") in q and ("created_at.lt", "b") in q
    assert not any(k.startswith("exclude") for k, _ in q)  # not both: a 400


@pytest.mark.parametrize(
    ("event", "project"),
    [
        (
            {"type": "claude_project_document_updated", "claude_project_id": "claude_proj_a"},
            "claude_proj_a",
        ),
        (
            {
                "type": "claude_project_file_bulk_deletion_audit_truncated",
                "claude_project_id": "claude_proj_b",
            },
            "claude_proj_b",
        ),
        (
            {
                "type": "role_assignment_granted",
                "resource_id": "claude_proj_c",
                "resource_type": "x",
            },
            "claude_proj_c",
        ),
        ({"type": "role_assignment_revoked", "resource_id": "org_x"}, None),
        ({"type": "role_assignment_revoked", "claude_project_id": "claude_proj_d"}, None),
        ({"type": "claude_project_viewed", "claude_project_id": "claude_proj_e"}, None),
        ({"type": "compliance_api_accessed", "url": "/v1/compliance/apps/projects"}, None),
        (
            {"type": "claude_project_something_new", "claude_project_id": "claude_proj_f"},
            "claude_proj_f",
        ),
        ({"type": "claude_chat_created"}, None),
    ],
)
def test_touched_project(event: dict[str, str], project: str | None) -> None:
    assert touched_project(event) == project


def test_digest_dedupes_by_id_across_pages_and_against_the_parent() -> None:
    digest = Digest(already_seen={"act_0"})
    ev = lambda i, p: {  # noqa: E731
        "id": f"act_{i}",
        "type": "claude_project_file_uploaded",
        "claude_project_id": p,
        "created_at": "2026-11-28T10:00:00Z",
    }
    first = digest.events([ev(0, "claude_proj_a"), ev(1, "claude_proj_b"), ev(1, "claude_proj_b")])
    second = digest.events([ev(1, "claude_proj_b"), ev(2, "claude_proj_c"), {"no": "id"}])
    assert [(e.activity_id, e.acted) for e in first] == [
        ("act_0", False),  # the parent read it
        ("act_1", True),
        ("act_1", False),  # at least once: a repeat
    ]
    assert [(e.activity_id, e.acted) for e in second] == [("act_1", False), ("act_2", True)]


def test_reasons() -> None:
    assert reasons_json("changed", ["b", "a", "a"]) == {
        "list_entry": "changed",
        "activities": ["a", "b"],
    }
    assert reasons_json(None, []) == {}

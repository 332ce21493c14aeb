"""Eligibility rules, selection, change detection, holds and the plan codec: pure, no server."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from crawler.errors import UsageError
from crawler.retention.changes import (
    attachment_differences,
    detail_differences,
    document_differences,
)
from crawler.retention.feed import changes_after
from crawler.retention.holds import Hold, active_holds, holds_covering
from crawler.retention.plan import build_plan, decode_plan, encode_plan, plan_hash
from crawler.retention.rules import Facts, decide
from crawler.retention.select import Selection, cutoff, ids_from_file, parse_age
from crawler.retention.store import HoldEvent


def eligible_facts(**overrides: object) -> Facts:
    f = Facts("project", "claude_proj_a", archive_problem=None, fresh="ok", chats_count=0)
    for k, v in overrides.items():
        setattr(f, k, v)
    return f


def codes(f: Facts, **kw: bool) -> list[str]:
    return [r.code for r in decide(f, **kw)]


def test_a_whole_unchanged_unheld_project_without_chats_is_eligible() -> None:
    assert decide(eligible_facts()) == []


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"receipt": "project deleted at ..."}, "already_deleted"),
        ({"archive_problem": "in no finished snapshot"}, "not_archived"),
        ({"rehash_problems": ["blob x is damaged"]}, "rehash_failed"),
        ({"holds": [Hold("m", "project", "claude_proj_a", "me", "t", None)]}, "held"),
        ({"fresh": "gone"}, "gone"),
        ({"fresh": "error", "fresh_error": "503"}, "unreadable"),
        ({"chats_count": 2}, "has_chats"),
        ({"differences": ["detail fields changed: name"]}, "changed"),
        ({"feed_events": ["claude_project_document_updated at t (a1)"]}, "feed_events"),
        ({"in_selection": False, "selection_note": "x"}, "outside_selection"),
    ],
)
def test_each_rule_refuses_on_its_own(overrides: dict[str, object], code: str) -> None:
    assert codes(eligible_facts(**overrides)) == [code]


@pytest.mark.parametrize("chats", [None, "0", True, -1, 1.0])
def test_only_a_literal_zero_chats_count_passes(chats: object) -> None:
    assert codes(eligible_facts(chats_count=chats)) == ["has_chats"]


def test_every_applicable_reason_is_listed_not_just_the_first() -> None:
    f = eligible_facts(rehash_problems=["bad"], chats_count=1, differences=["x"])
    assert codes(f) == ["rehash_failed", "has_chats", "changed"]


def test_an_unread_item_is_never_eligible_and_offline_mode_skips_the_fresh_rules() -> None:
    unread = Facts("project", "p", archive_problem=None)
    assert codes(unread) == ["unreadable"]
    assert codes(unread, offline=True) == []
    refused = Facts("project", "p", archive_problem="absent")
    assert codes(refused) == ["not_archived"]  # no 'not read' noise beside a real reason


def test_documents_ignore_chats() -> None:
    f = Facts("document", "claude_proj_doc_x", archive_problem=None, fresh="ok")
    assert decide(f) == []


# -- selection -------------------------------------------------------------------------------


def test_ages_count_back_in_calendar_units() -> None:
    now = datetime(2028, 2, 29, 12, 0, tzinfo=UTC)
    assert cutoff(now, parse_age("3y")) == datetime(2025, 2, 28, 12, 0, tzinfo=UTC)
    assert cutoff(now, parse_age("1m")) == datetime(2028, 1, 29, 12, 0, tzinfo=UTC)
    assert cutoff(now, parse_age("2w")) == datetime(2028, 2, 15, 12, 0, tzinfo=UTC)
    assert cutoff(now, parse_age("90d")).day == 1
    for bad in ("3", "y", "0y", "-1y", "3 years", "1.5y"):
        with pytest.raises(UsageError):
            parse_age(bad)


def project(**fields: object) -> dict[str, object]:
    base: dict[str, object] = {
        "id": "claude_proj_a",
        "created_at": "2020-01-01T00:00:00Z",
        "updated_at": "2024-06-01T00:00:00+00:00",
        "deleted_at": None,
        "organization_id": "org_1",
        "organization_uuid": "uuid-1",
        "user": {"id": "user_1", "email_address": "a@example.com"},
    }
    base.update(fields)
    return base


def test_selection_narrowing_compares_instants_ids_and_emails() -> None:
    old = Selection(cutoff="2021-01-01T00:00:00Z")
    assert old.excludes(project()) is None
    assert old.excludes(project(created_at="2021-01-01T00:00:00Z")) is not None  # not before
    by_updated = Selection(cutoff="2024-06-01T00:00:01Z", age_field="updated_at")
    assert by_updated.excludes(project()) is None
    assert Selection(users=("a@example.com",)).excludes(project()) is None
    assert Selection(users=("user_2",)).excludes(project()) is not None
    assert Selection(orgs=("uuid-1",)).excludes(project()) is None
    assert Selection(deleted_in_claude=True).excludes(project()) is not None
    assert (
        Selection(deleted_in_claude=True).excludes(project(deleted_at="2024-01-01T00:00:00Z"))
        is None
    )


def test_list_query_sends_ids_upstream_but_matches_emails_locally() -> None:
    q = Selection(users=("user_1",), orgs=("org_1",), cutoff="2021-01-01T00:00:00Z").list_query()
    assert q == [
        ("organization_ids[]", "org_1"),
        ("user_ids[]", "user_1"),
        ("created_at.lt", "2021-01-01T00:00:00Z"),
    ]
    assert Selection(users=("user_1", "a@example.com")).list_query() == []


def test_ids_from_file_splits_projects_and_documents(tmp_path: Path) -> None:
    f = tmp_path / "ids.txt"
    f.write_text("# erasure request 42\nclaude_proj_a\n\nclaude_proj_doc_b  # one doc\n")
    assert ids_from_file(f) == (["claude_proj_a"], ["claude_proj_doc_b"])
    f.write_text("claude_proj_a/../x\n")
    with pytest.raises(UsageError):
        ids_from_file(f)


# -- changes ---------------------------------------------------------------------------------


def test_changes_are_compared_as_values_not_bytes() -> None:
    assert detail_differences({"a": 1, "b": [1, 2]}, {"b": [1, 2], "a": 1}) == []
    assert detail_differences({"a": 1}, {"a": 1, "new": None}) == ["detail fields changed: new"]
    old: list[dict[str, object]] = [{"id": "d1", "x": 1}, {"id": "d2"}]
    assert attachment_differences(old, list(reversed(old))) == []
    diff = attachment_differences(old, [{"id": "d1", "x": 2}, {"id": "d3"}])
    assert diff == ["attachments added: d3", "attachments removed: d2", "attachments changed: d1"]
    md5 = "900150983cd24fb0d6963f7d28e17f72"  # md5("abc")
    assert document_differences(md5, "abc") == []
    assert document_differences(md5, "abd") != []
    assert document_differences(md5, None) != []


def test_feed_changes_after_the_snapshot_only_and_by_target() -> None:
    events = [
        {
            "id": "e1",
            "type": "claude_project_file_uploaded",
            "claude_project_id": "claude_proj_p",
            "created_at": "2026-01-01T00:00:00Z",
        },
        {
            "id": "e2",
            "type": "claude_project_document_updated",
            "claude_project_id": "claude_proj_p",
            "claude_project_document_id": "d",
            "created_at": "2026-01-02T00:00:00.5+00:00",
        },
        {
            "id": "e3",
            "type": "role_assignment_granted",
            "resource_id": "claude_proj_p",
            "created_at": "2026-01-03T00:00:00Z",
        },
        {
            "id": "e4",
            "type": "claude_project_file_uploaded",
            "claude_project_id": "q",
            "created_at": "2026-01-03T00:00:00Z",
        },
    ]
    since = "2026-01-01T00:00:00Z"
    assert [c.split()[-1] for c in changes_after(events, since, project_id="claude_proj_p")] == [
        "(e2)",
        "(e3)",
    ]
    assert len(changes_after(events, since, project_id="claude_proj_p", document_id="d")) == 1
    assert changes_after(events, since, project_id="claude_proj_p", document_id="other") == []


# -- holds -----------------------------------------------------------------------------------


def ev(
    seq: int, matter: str, action: str, scope: str | None = None, target: str | None = None
) -> HoldEvent:
    return HoldEvent(seq, matter, action, scope, target, "me", f"t{seq}", None)


def test_holds_replay_adds_and_releases_in_order() -> None:
    events = [
        ev(1, "A", "add", "project", "p1"),
        ev(2, "B", "add", "user", "a@example.com"),
        ev(3, "A", "release"),
        ev(4, "A", "add", "org", "uuid-1"),
    ]
    held = active_holds(events)
    assert {(h.matter, h.scope, h.target) for h in held} == {
        ("B", "user", "a@example.com"),
        ("A", "org", "uuid-1"),
    }
    assert [h.matter for h in holds_covering(held, project(organization_uuid="uuid-9"))] == ["B"]
    assert holds_covering(held, project(user=None, organization_uuid="u")) == []
    assert holds_covering(held, project(user=None), {"id": "claude_proj_a"})[0].matter == "A"


# -- plan codec ------------------------------------------------------------------------------


def test_plan_hash_covers_everything_and_survives_pretty_printing() -> None:
    plan = build_plan(
        created_at="2026-01-01T00:00:00Z",
        selection={"projects": ["p"]},
        feed="checked",
        items=[{"kind": "project", "id": "p", "project_id": "p", "snapshot_id": "s", "record": {}}],
        refused=[{"kind": "project", "id": "q", "reasons": [{"code": "held", "detail": "A"}]}],
    )
    assert plan["totals"]["by_reason"] == {"held": 1}
    data = encode_plan(plan)
    assert b"\n  " in data  # readable
    assert decode_plan(data) == plan
    tampered = data.replace(b'"id": "p"', b'"id": "x"')
    with pytest.raises(UsageError, match="altered"):
        decode_plan(tampered)
    assert plan_hash(plan) == plan["plan_sha256"]
    with pytest.raises(UsageError):
        decode_plan(b"not json")

"""Each mutation kind leaves the feed event the live service records, and only those."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from sim_helpers import MakeSim, call

from crawler.simulator import DatasetSpec, Simulator
from crawler.simulator.mutations import KINDS

ACCESSED = "compliance_api_accessed"


async def events_of(sim: Simulator, ids: list[str]) -> list[dict[str, Any]]:
    q = f"order=asc&limit=5000&exclude_activity_types[]={ACCESSED}"
    reply = await call(sim, "/activities", raw_query=q)
    wanted = set(ids)
    return [e for e in reply.json()["data"] if e["id"] in wanted]


def by_project(events: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for e in events:
        pid = e.get("claude_project_id") or e.get("resource_id")
        out.setdefault(pid, []).append(e)
    return out


async def test_every_kind_emits_its_event(make_sim: MakeSim) -> None:
    async with make_sim(dataset=DatasetSpec.small(projects=80)) as sim:
        ds = sim.dataset
        docs_before = {d: ds.documents[d].filename for d in ds.documents}
        files_before = set(ds.files)
        ch = sim.mutate(seed=8, fraction=0.05, kinds="all")
        events = await events_of(sim, ch.activity_ids)
        assert len(events) == len(ch.activity_ids)
        assert ch.projects_edited and ch.sharing_changed and ch.projects_soft_deleted
        per = by_project(events)
        for e in events:
            assert e["actor"]["type"] == "user_actor"
            assert e["actor"]["user_id"].startswith("user_") and "@" in e["actor"]["email_address"]
            pid = e.get("claude_project_id") or e["resource_id"]
            org = ds.projects[pid].org if pid in ds.projects else None
            if org is not None:
                assert (e["organization_id"], e["organization_uuid"]) == (org.tagged_id, org.uuid)

        def only(pid: str, type_: str) -> dict[str, Any]:
            (e,) = [e for e in per[pid] if e["type"] == type_]
            return e

        for pid in ch.projects_soft_deleted:
            assert [e["type"] for e in per[pid]] == ["claude_project_deleted"]
            assert ds.projects[pid].deleted_at == ch.at  # still listed
        for pid in ch.projects_renamed + ch.projects_edited + ch.projects_hard_deleted:
            assert pid not in per, "no event for edits or retention removals"
        for pid, item in ch.attachments_added:
            if item.startswith("claude_proj_doc_"):
                e = only(pid, "claude_project_document_uploaded")
                assert (e["claude_project_document_id"], e["filename"]) == (
                    item,
                    ds.documents[item].filename,
                )
            else:
                e = only(pid, "claude_project_file_uploaded")
                assert (e["claude_file_id"], e["filename"]) == (item, ds.files[item].filename)
        for pid, item in ch.attachments_removed:
            if item in docs_before:
                e = only(pid, "claude_project_document_deleted")
                assert e["claude_project_document_id"] == item
                assert e["filename"] == docs_before[item]
            else:
                assert item in files_before
                assert only(pid, "claude_project_file_deleted")["claude_file_id"] == item
        for pid, doc_id in ch.documents_replaced:
            e = only(pid, "claude_project_document_updated")
            assert e["claude_project_document_id"] == doc_id
        for kind, pairs in (
            ("granted", ch.collaborators_granted),
            ("revoked", ch.collaborators_revoked),
        ):
            for pid, _assignment in pairs:
                e = only(pid, f"role_assignment_{kind}")
                assert "claude_project_id" not in e
                assert e["resource_id"] == pid and e["resource_type"] == "claude_project"
                assert e["role"] in ("admin", "editor", "owner", "viewer")
                assert e["target_type"] in ("user", "group", "organization", "organization_role")
                assert "target_id" in e
        for pid in ch.sharing_changed:
            e = only(pid, "claude_project_sharing_updated")
            private = ds.projects[pid].is_private
            assert e["audience"] == ([] if private else [{"type": "organization"}])
        for pid in ch.projects_added:
            types = Counter(e["type"] for e in per[pid])
            assert types["claude_project_created"] == 1
            p = ds.projects[pid]
            assert types["claude_project_document_uploaded"] == sum(
                k == "doc" for k, _ in p.attachments
            )
            assert types["claude_project_file_uploaded"] == sum(
                k == "file" for k, _ in p.attachments
            )
            assert types["role_assignment_granted"] == len(p.collaborators)
        # Every project with an event is touched; touched ones without are edits or removals.
        touched = ch.touched_projects()
        assert set(per) <= touched
        silent = touched - set(per)
        assert silent == set(ch.projects_renamed + ch.projects_edited + ch.projects_hard_deleted)


async def test_kinds_restrict_and_bulk_and_noise(make_sim: MakeSim) -> None:
    async with make_sim(dataset=DatasetSpec.small(projects=80)) as sim:
        ds = sim.dataset
        with pytest.raises(ValueError, match="unknown mutation kind"):
            sim.mutate(seed=1, kinds=["nope"])
        ch = sim.mutate(seed=9, fraction=0.05, kinds=["share"], bulk=2, noise=5)
        assert ch.sharing_changed and not ch.projects_added and not ch.documents_replaced
        assert len(ch.bulk_truncated) == 2
        events = await events_of(sim, ch.activity_ids)
        per = by_project(events)
        for pid in ch.bulk_truncated:
            removed = [i for p, i in ch.attachments_removed if p == pid]
            assert len(removed) >= 2
            assert all(("doc", i) not in ds.projects[pid].attachments for i in removed)
            assert all(("file", i) not in ds.projects[pid].attachments for i in removed)
            (trunc,) = [e for e in per[pid] if e["type"].endswith("_bulk_deletion_audit_truncated")]
            assert trunc["audited_count"] == 1 and trunc["requested_count"] == len(removed)
            audited = [e for e in per[pid] if e["type"].endswith("_deleted")]
            assert len(audited) == 1
        viewed = [e for e in events if e["type"].endswith("_viewed")]
        assert len(viewed) == 5
        assert {e["type"] for e in viewed} <= {
            "claude_project_viewed",
            "claude_project_document_viewed",
        }
        assert set(KINDS) >= {"edit", "share", "create", "hard_delete"}


async def test_api_deletes_leave_only_accessed_events(make_sim: MakeSim) -> None:
    async with make_sim() as sim:
        ds = sim.dataset
        idle = next(p for p in ds.sorted_projects() if p.chats_count == 0 and not p.gone_on_detail)
        doc = next(d for d in ds.documents.values() if d.project_id != idle.id)
        assert (
            await call(sim, f"/apps/projects/{idle.id}", method="DELETE", key=sim.delete_key)
        ).status == 200
        assert (
            await call(
                sim, f"/apps/projects/documents/{doc.id}", method="DELETE", key=sim.delete_key
            )
        ).status == 200
        reply = await call(sim, "/activities", raw_query="order=asc&limit=5000")
        data = reply.json()["data"]
        assert [e["type"] for e in data] == [ACCESSED, ACCESSED]
        assert [e["request_method"] for e in data] == ["DELETE", "DELETE"]
        assert data[0]["url"].endswith(idle.id) and data[1]["url"].endswith(doc.id)


async def test_events_are_dated_on_the_wall_clock_when_data_runs_ahead(sim: Simulator) -> None:
    from crawler.simulator.timestamps import now_ns, parse_instant

    ch = sim.mutate(seed=10, fraction=0.1, at="2035-01-01T00:00:00Z")
    assert ch.at.startswith("2035")
    events = await events_of(sim, ch.activity_ids)
    assert len(events) == len(ch.activity_ids)
    times = [parse_instant(e["created_at"]) for e in events]
    assert max(times) <= now_ns()
    created = [e for e in events if e["type"] == "claude_project_created"]
    assert [e["claude_project_id"] for e in created] == ch.projects_added  # spacing kept


async def test_ground_truth_pages_and_projects(sim: Simulator) -> None:
    from crawler.simulator.activity import FeedQuery

    ch = sim.mutate(seed=11, fraction=0.1, kinds="all")
    silent = set(ch.projects_renamed + ch.projects_edited + ch.projects_hard_deleted)
    assert sim.feed.projects_touched(ch.activity_ids) == ch.touched_projects() - silent
    q = FeedQuery(exclude_types=frozenset({ACCESSED}), descending=False, limit=4)
    assert sim.feed.matching(q) == len(ch.activity_ids)
    pages, after = 0, ""
    while True:
        reply = await call(
            sim,
            "/activities",
            raw_query=f"order=asc&limit=4&exclude_activity_types[]={ACCESSED}{after}",
        )
        body = reply.json()
        pages += 1
        if not body["has_more"]:
            break
        after = f"&after_id={body['last_id']}"
    assert pages == sim.feed.pages(q) == -(-len(ch.activity_ids) // 4)

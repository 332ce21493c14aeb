"""The community SDK, unchanged, reads everything from the simulator and gets the ground truth."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
from typing import Any

from claude_compliance_sdk import ComplianceClient
from claude_compliance_sdk._internal.pagination import iter_all_offset_sync
from claude_compliance_sdk.resources.projects import PROJECTS_PATH, Project

from crawler.simulator import Simulator


def served(obj: Any) -> dict[str, Any]:
    """What the SDK object holds of the served body: its known fields plus ``extra``."""
    known = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj) if f.name != "extra"}
    return {**known, **obj.extra}


def same(obj: Any, truth: dict[str, Any]) -> None:
    got = served(obj)
    for key, value in truth.items():
        assert got[key] == value, (key, got[key], value)
    assert "sim_extra" in obj.extra  # unknown fields survive


def crawl_with_sdk(sim: Simulator) -> dict[str, int]:
    ds = sim.dataset
    seen = {"projects": 0, "files": 0, "documents": 0}
    with ComplianceClient(api_key=sim.key, base_url=sim.base_url, rate_limit_rpm=0) as client:
        orgs = list(client.organizations.iter())
        assert [o.uuid for o in orgs] == [o["uuid"] for o in ds.organizations()]
        for org, truth in zip(orgs, ds.organizations(), strict=True):
            same(org, truth)
            users = list(client.organizations.iter_users(org.uuid, limit=4))
            truth_users = ds.organization_users(org.uuid)
            assert len(users) == len(truth_users)
            for user, t in zip(users, truth_users, strict=True):
                same(user, t)

        everything = list(client.projects.iter(limit=7))
        assert [p.id for p in everything] == ds.project_ids()
        org = ds.orgs[0]
        by_tag = [p.id for p in client.projects.iter(organization_ids=[org.tagged_id], limit=100)]
        by_uuid = [p.id for p in client.projects.iter(organization_ids=[org.uuid], limit=100)]
        assert by_tag == by_uuid == ds.project_ids({"organization_ids": [org.tagged_id]})
        assert by_tag
        user_id = next(p.creator.id for p in ds.sorted_projects() if p.creator is not None)
        by_user = [p.id for p in client.projects.iter(user_ids=[user_id], limit=100)]
        assert by_user == ds.project_ids({"user_ids": [user_id]}) and by_user
        entries = [t.list_entry for t in ds.projects_truth()]
        lo, hi = entries[5]["created_at"], entries[20]["created_at"]
        window = [
            p.id for p in client.projects.iter(created_at_gte=lo, created_at_lt=hi, limit=100)
        ]
        assert window == ds.project_ids({"created_at_gte": lo, "created_at_lt": hi})
        assert 10 <= len(window) <= 20
        since = sorted(e["updated_at"] for e in entries)[len(entries) // 2]
        by_updated = [
            p.id
            for p in iter_all_offset_sync(
                client._transport,
                PROJECTS_PATH,
                Project.from_dict,
                params={"updated_at.gte": since, "limit": 100},
            )
        ]
        assert by_updated == ds.project_ids({"updated_at_gte": since}) and by_updated

        downloaded: set[str] = set()
        for proj, truth in zip(everything, ds.projects_truth(), strict=True):
            same(proj, truth.list_entry)
            seen["projects"] += 1
            if truth.gone:
                try:
                    client.projects.get(proj.id)
                except Exception as exc:  # the SDK's NotFoundError
                    assert getattr(exc, "status_code", None) == 404
                else:
                    raise AssertionError("gone project answered its detail")
                continue
            detail = client.projects.get(proj.id)
            assert truth.detail is not None
            same(detail, truth.detail)
            atts = list(client.projects.iter_attachments(proj.id, limit=100))
            assert len(atts) == detail.attachments_count == len(truth.attachments)
            for att, t in zip(atts, truth.attachments, strict=True):
                same(att, t)
            collabs = list(client.projects.iter_collaborators(proj.id, limit=100))
            assert len(collabs) == len(truth.collaborators)
            for collab, t in zip(collabs, truth.collaborators, strict=True):
                same(collab, t)
            for doc in truth.documents:
                got = client.project_documents.get(doc.id)
                same(got, doc.response)
                assert got.content == doc.text
                meta = client.project_documents.get_metadata(doc.id)
                same(meta, doc.metadata)
                assert meta.md5 == hashlib.md5(got.content.encode()).hexdigest()
                assert meta.size_bytes == len(got.content.encode())
                seen["documents"] += 1
            for f in truth.files:
                if f.id in downloaded:
                    continue
                downloaded.add(f.id)
                same(client.files.get(f.id), f.metadata)
                body = client.files.download(f.id)
                assert hashlib.md5(body).hexdigest() == f.md5
                assert len(body) == f.size
                seen["files"] += 1
    return seen


async def test_sdk_reads_everything_as_the_dataset_says(sim: Simulator) -> None:
    seen = await asyncio.to_thread(crawl_with_sdk, sim)
    assert seen["projects"] == 30
    assert seen["files"] > 10 and seen["documents"] > 10
    # Retries are on in the SDK: nothing should have needed one.
    assert all(
        status < 400 or status == 404 for per in sim.counters.by_endpoint.values() for status in per
    )


def feed_and_deletes_with_sdk(sim: Simulator) -> None:
    from claude_compliance_sdk import ConflictError, InsufficientScopeError, NotFoundError

    ds = sim.dataset
    changes = sim.mutate(seed=3, fraction=0.1)
    accessed = ["compliance_api_accessed"]
    with ComplianceClient(api_key=sim.key, base_url=sim.base_url, rate_limit_rpm=0) as client:
        # Paged through after_id=last_id (desc, the default), the SDK sees every change.
        got = list(client.activities.iter(exclude_activity_types=accessed, limit=7))
        assert [a.id for a in got] == sorted(changes.activity_ids, reverse=True)
        asc = list(client.activities.iter(exclude_activity_types=accessed, order="asc", limit=5))
        assert [a.id for a in asc] == sorted(changes.activity_ids)
        truth = {e["id"]: e for e in sim.feed.rendered()}
        for a in asc:
            same(a, truth[a.id])
        org = ds.orgs[0]
        mine = list(client.activities.iter(organization_ids=[org.uuid], order="asc"))
        assert mine and all(a.organization_uuid == org.uuid for a in mine)
        page = client.activities.list(activity_types=accessed, limit=3)
        assert len(page.data) == 3 and page.has_more and page.first_id == page.data[0].id
        assert all(a.actor == {"type": "api_actor"} for a in page.data)
        try:
            client.projects.delete(ds.cases.empty_project or "")
        except InsufficientScopeError:
            pass
        else:
            raise AssertionError("the read key deleted")
    with ComplianceClient(
        api_key=sim.delete_key or "", base_url=sim.base_url, rate_limit_rpm=0, max_retries=0
    ) as deleter:
        busy = next(p for p in ds.sorted_projects() if p.chats_count > 0 and not p.gone_on_detail)
        try:
            deleter.projects.delete(busy.id)
        except ConflictError:
            pass
        else:
            raise AssertionError("deleted a project with chats")
        idle = next(p for p in ds.sorted_projects() if p.chats_count == 0 and not p.gone_on_detail)
        deleter.projects.delete(idle.id)
        assert idle.id not in ds.projects
        try:
            deleter.projects.delete(idle.id)
        except NotFoundError:
            pass
        else:
            raise AssertionError("deleted twice")
        doc = next(iter(ds.documents))
        deleter.project_documents.delete(doc)
        assert doc not in ds.documents
        try:
            deleter.activities.list()
        except InsufficientScopeError:
            pass
        else:
            raise AssertionError("the delete key read the feed")
    assert sim.counters.delete_calls(idle.id) == 2 and sim.counters.delete_calls(doc) == 1


async def test_sdk_reads_the_feed_and_deletes(sim: Simulator) -> None:
    await asyncio.to_thread(feed_and_deletes_with_sdk, sim)

"""The wire behaviour: auth, scopes, errors, request ids, rate limit, pagination, file headers."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time
from typing import Any
from urllib.parse import quote, unquote

import pytest
from sim_helpers import MakeSim, call, walk

from crawler.simulator import ALL_SCOPES, READ_SCOPES, DatasetSpec, Simulator
from crawler.simulator.auth import NO_FEED_SCOPES

SMALL_SPEC = DatasetSpec.small()

READ_KEY = "sk-ant-api01-read-only"
NO_ORG_KEY = "sk-ant-api01-user-data-only"


def error_type(reply: object) -> str:
    body = reply.json()  # type: ignore[attr-defined]
    assert body["type"] == "error"
    assert set(body["error"]) >= {"type", "message"}
    return str(body["error"]["type"])


async def test_auth_by_header_or_bearer_and_401_shape(sim: Simulator) -> None:
    ok = await call(sim, "/apps/projects")
    assert ok.status == 200
    bearer = await call(
        sim, "/apps/projects", key=None, headers={"Authorization": f"Bearer {sim.key}"}
    )
    assert bearer.status == 200
    for key in (None, "sk-ant-api01-wrong"):
        reply = await call(sim, "/apps/projects", key=key)
        assert reply.status == 401
        assert error_type(reply) == "authentication_error"
        assert reply.json()["error"]["message"] == "invalid x-api-key"
        assert reply.headers["request-id"].startswith("req_")
        assert "anthropic-ratelimit-requests-limit" not in reply.headers


async def test_scopes_403_and_read_only_key_cannot_delete(make_sim: MakeSim) -> None:
    keys = {
        "sk-ant-api01-full": ALL_SCOPES,
        READ_KEY: READ_SCOPES,
        NO_ORG_KEY: frozenset({"read:compliance_user_data"}),
    }
    async with make_sim(keys=keys) as sim:
        assert sim.key == "sk-ant-api01-full"
        reply = await call(sim, "/organizations", key=NO_ORG_KEY)
        assert reply.status == 403 and error_type(reply) == "permission_error"
        message = reply.json()["error"]["message"]
        assert message.startswith("Missing required scopes. Got: [")
        assert message.endswith("Needed: ['read:compliance_org_data']")
        pid = sim.dataset.cases.empty_project
        reply = await call(sim, f"/apps/projects/{pid}", method="DELETE", key=READ_KEY)
        assert reply.status == 403 and error_type(reply) == "permission_error"
        assert "anthropic-ratelimit-requests-remaining" in reply.headers
        assert (await call(sim, "/organizations", key=READ_KEY)).status == 200


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=101",
        "limit=abc",
        "created_at.gte=2024-01-01",
        "created_at.lt=2024-01-01T00:00:00",
        "updated_at.gt=yesterday",
        "page=nonsense",
        "page=page_%2B%2F99xx%3D%3D",
        "unknown=1",
        "limit=5&limit=6",
        "organization_ids[]=",
    ],
)
async def test_bad_requests_are_400(sim: Simulator, query: str) -> None:
    reply = await call(sim, "/apps/projects", raw_query=query)
    assert reply.status == 400, (query, reply.body)
    assert error_type(reply) == "invalid_request_error"
    assert reply.headers["x-should-retry"] == "false"


async def test_limits_per_endpoint(sim: Simulator) -> None:
    org = sim.dataset.orgs[0].uuid
    assert (await call(sim, "/organizations", {"limit": "1000"})).status == 200
    assert (await call(sim, "/organizations", {"limit": "1001"})).status == 400
    assert (await call(sim, f"/organizations/{org}/users", {"limit": "1000"})).status == 200
    pid = sim.dataset.cases.many_attachments_project
    assert (await call(sim, f"/apps/projects/{pid}/attachments", {"limit": "101"})).status == 400
    assert (await call(sim, f"/apps/projects/{pid}/collaborators", {"limit": "100"})).status == 200


async def test_404_409_and_deletes(sim: Simulator) -> None:
    ds = sim.dataset
    gone = ds.cases.gone_project
    assert gone in ds.project_ids()  # listed...
    for path in (f"/apps/projects/{gone}", f"/apps/projects/{gone}/attachments"):
        reply = await call(sim, path)  # ...but 404 on fetch
        assert reply.status == 404 and error_type(reply) == "not_found_error"
    for path in ("/apps/projects/claude_proj_nope", "/apps/chats/files/claude_file_nope"):
        assert (await call(sim, path)).status == 404
    assert (await call(sim, "/organizations/not-a-uuid/users")).status == 404
    assert (await call(sim, "/no/such/route")).status == 404

    busy = next(p for p in ds.sorted_projects() if p.chats_count > 0 and not p.gone_on_detail)
    reply = await call(sim, f"/apps/projects/{busy.id}", method="DELETE", key=sim.delete_key)
    assert reply.status == 409 and error_type(reply) == "conflict_error"

    idle = next(
        p
        for p in ds.sorted_projects()
        if p.chats_count == 0 and not p.gone_on_detail and p.attachments
    )
    doc_ids = [i for k, i in idle.attachments if k == "doc"]
    reply = await call(sim, f"/apps/projects/{idle.id}", method="DELETE", key=sim.delete_key)
    assert reply.status == 200
    assert reply.json() == {"id": idle.id, "type": "claude_project_deleted"}
    assert (await call(sim, f"/apps/projects/{idle.id}")).status == 404
    assert (
        await call(sim, f"/apps/projects/{idle.id}", method="DELETE", key=sim.delete_key)
    ).status == 404
    assert idle.id not in ds.project_ids()
    for doc_id in doc_ids:
        assert (await call(sim, f"/apps/projects/documents/{doc_id}")).status == 404

    doc = next(iter(ds.documents))
    reply = await call(sim, f"/apps/projects/documents/{doc}", method="DELETE", key=sim.delete_key)
    assert reply.json() == {"id": doc, "type": "claude_project_document_deleted"}
    assert (await call(sim, f"/apps/projects/documents/{doc}/metadata")).status == 404


async def test_request_id_on_every_response(make_sim: MakeSim) -> None:
    async with make_sim(rate=2.0) as sim:
        replies = [await call(sim, "/apps/projects") for _ in range(4)]
        replies.append(await call(sim, "/apps/projects", key=None))
        replies.append(await call(sim, "/apps/projects", raw_query="limit=0"))
        replies.append(await call(sim, "/nowhere"))
        statuses = {r.status for r in replies}
        assert {200, 429, 401, 404} <= statuses
        ids = [r.headers["request-id"] for r in replies]
        assert len(set(ids)) == len(ids)
        for rid in ids:
            assert rid.startswith("req_") and len(rid) == 28 and rid[4:].isalnum()


async def test_rate_limit_429_with_headers_then_recovers(make_sim: MakeSim) -> None:
    async with make_sim(rate=4.0) as sim:
        replies = await asyncio.gather(*(call(sim, "/apps/projects") for _ in range(6)))
        ok = [r for r in replies if r.status == 200]
        limited = [r for r in replies if r.status == 429]
        assert len(ok) == 4 and len(limited) == 2
        assert sim.counters.rate_limited == 2
        for r in limited:
            assert error_type(r) == "rate_limit_error"
            assert r.headers["x-should-retry"] == "true"
            assert int(r.headers["retry-after"]) >= 1
            assert r.headers["anthropic-ratelimit-requests-limit"] == "4"
            assert r.headers["anthropic-ratelimit-requests-remaining"] == "0"
            assert r.headers["anthropic-ratelimit-requests-reset"].endswith("Z")
        remaining = sorted(int(r.headers["anthropic-ratelimit-requests-remaining"]) for r in ok)
        assert remaining == [0, 1, 2, 3]
        # Failed auth is not counted: still limited, but no 429 consumed budget either.
        assert (await call(sim, "/apps/projects", key="bad")).status == 401
        await asyncio.sleep(1.05)
        assert (await call(sim, "/apps/projects")).status == 200


async def test_no_429_when_spaced(make_sim: MakeSim) -> None:
    async with make_sim(rate=20.0) as sim:
        start = time.monotonic()
        for i in range(30):
            await asyncio.sleep(max(0.0, start + i * 0.055 - time.monotonic()))
            reply = await call(sim, "/apps/projects")
            assert reply.status == 200
        assert sim.counters.rate_limited == 0


async def test_tie_at_page_boundary_no_dupes_no_gaps(make_sim: MakeSim) -> None:
    spec = DatasetSpec.small(seed=3, projects=110, short_page_rate=0, empty_page_rate=0)
    async with make_sim(dataset=spec) as sim:
        ds = sim.dataset
        order = ds.project_ids()
        tie = ds.cases.tie_group
        assert len(tie) == 5
        instants = {ds.projects[p].created_ns for p in tie}
        assert len(instants) == 1  # one instant...
        assert len({ds.projects[p].created_at for p in tie}) >= 3  # ...spelled several ways
        positions = sorted(order.index(p) for p in tie)
        assert positions[0] < 100 <= positions[-1]  # straddles the boundary of 100
        items, pages = await walk(sim, "/apps/projects", {"limit": "100"})
        assert [i["id"] for i in items] == order and pages == 2
        for limit in (3, 7, 99):
            items, _ = await walk(sim, "/apps/projects", {"limit": str(limit)})
            assert [i["id"] for i in items] == order


async def test_short_and_empty_pages_are_followed(make_sim: MakeSim) -> None:
    spec = DatasetSpec.small(seed=5, projects=40, short_page_rate=0.3, empty_page_rate=0.3)
    async with make_sim(dataset=spec) as sim:
        sizes: list[int] = []
        query: dict[str, str] = {"limit": "5"}
        while True:
            body = (await call(sim, "/apps/projects", query)).json()
            sizes.append(len(body["data"]))
            if body["next_page"] is None:
                break
            assert body["has_more"] is True
            query["page"] = body["next_page"]
        assert 0 in sizes[:-1] and 2 in sizes[:-1]  # an empty page and a short page mid-walk
        assert sum(sizes) == 40
        assert len(sizes) == sim.dataset.list_pages(limit=5)
        counts = sim.dataset.minimum_requests()
        assert counts["projects.list"] == sim.dataset.list_pages(limit=100)


async def test_tokens_are_opaque_base64_and_must_be_url_encoded(sim: Simulator) -> None:
    body = (await call(sim, "/apps/projects", {"limit": "3"})).json()
    token = body["next_page"]
    assert "+" in token and "/" in token and token.endswith("=")
    raw = "limit=3&page=" + token  # not URL-encoded: '+' arrives as a space
    reply = await call(sim, "/apps/projects", raw_query=raw)
    assert reply.status == 400
    good = await call(sim, "/apps/projects", raw_query="limit=3&page=" + quote(token, safe=""))
    assert good.status == 200
    # A token belongs to its walk and its filters.
    pid = sim.dataset.cases.many_attachments_project
    other = await call(sim, f"/apps/projects/{pid}/attachments", {"page": token})
    assert other.status == 400
    org = sim.dataset.orgs[0].tagged_id
    mismatch = await call(sim, "/apps/projects", {"page": token, "organization_ids[]": org})
    assert mismatch.status == 400


async def test_token_expiry_by_ttl_and_forced(make_sim: MakeSim) -> None:
    async with make_sim(token_ttl=0.2) as sim:
        token = (await call(sim, "/apps/projects", {"limit": "3"})).json()["next_page"]
        await asyncio.sleep(0.3)
        reply = await call(sim, "/apps/projects", {"limit": "3", "page": token})
        assert reply.status == 400 and "expired" in reply.json()["error"]["message"]
    async with make_sim() as sim:
        token = (await call(sim, "/apps/projects", {"limit": "3"})).json()["next_page"]
        assert sim.expire_tokens() >= 1
        reply = await call(sim, "/apps/projects", {"limit": "3", "page": token})
        assert reply.status == 400 and error_type(reply) == "invalid_request_error"


async def test_percent_encoded_brackets_and_filters(sim: Simulator) -> None:
    ds = sim.dataset
    org = ds.orgs[1]
    expected = ds.project_ids({"organization_ids": [org.uuid]})
    raw = f"organization_ids%5B%5D={org.uuid}&limit=100"
    items = (await call(sim, "/apps/projects", raw_query=raw)).json()["data"]
    assert [i["id"] for i in items] == expected
    both = f"organization_ids[]={ds.orgs[0].tagged_id}&organization_ids[]={org.uuid}&limit=100"
    items = (await call(sim, "/apps/projects", raw_query=both)).json()["data"]
    assert len(items) == len(ds.project_ids())
    # Instants, not strings: a +02:00 bound equals the same instant in Z.
    first = ds.projects_truth().__next__().list_entry
    ns = ds.projects[first["id"]].created_ns
    from crawler.simulator.timestamps import format_instant

    z = format_instant(ns, 1)
    plus2 = z[:11] + f"{(int(z[11:13]) + 2) % 24:02d}" + z[13:-1] + "+02:00"
    if int(z[11:13]) < 22:
        items = (
            await call(sim, "/apps/projects", {"created_at.lte": plus2, "limit": "100"})
        ).json()["data"]
        assert [i["id"] for i in items] == ds.project_ids({"created_at_lte": z})


async def test_file_content_headers_and_bytes(sim: Simulator) -> None:
    ds = sim.dataset
    ids = [
        ds.cases.big_file,
        ds.cases.zero_byte_file,
        ds.cases.stale_md5_file,
        *ds.cases.hostile_name_files,
    ]
    for fid in ids:
        assert fid is not None
        truth = ds.file(fid)
        reply = await call(sim, f"/apps/chats/files/{fid}/content")
        assert reply.status == 200
        assert "content-length" not in reply.headers
        assert reply.headers["transfer-encoding"] == "chunked"
        assert reply.headers["content-type"] == truth.mime_type
        digest = hashlib.md5(reply.body).digest()
        assert reply.headers["content-md5"] == base64.b64encode(digest).decode()
        assert reply.body == truth.read_bytes()
        disposition = reply.headers["content-disposition"]
        prefix = "attachment; filename*=utf-8''"
        assert disposition.startswith(prefix)
        encoded = disposition[len(prefix) :]
        assert all(c.isalnum() or c in "%-._~" for c in encoded)
        assert unquote(encoded) == truth.filename
    stale = ds.file(ds.cases.stale_md5_file)  # type: ignore[arg-type]
    assert stale.recorded_md5 != stale.md5
    meta = (await call(sim, f"/apps/chats/files/{stale.id}")).json()
    assert meta["md5"] == stale.recorded_md5
    assert ds.file(ds.cases.zero_byte_file).size == 0  # type: ignore[arg-type]
    assert ds.file(ds.cases.big_file).size == SMALL_SPEC.big_file_bytes  # type: ignore[arg-type]


async def test_failed_auth_is_not_counted_a_missing_scope_is_and_keys_share_it(
    make_sim: MakeSim,
) -> None:
    # A 60 s window, so that a slow machine cannot let anything leave it mid-test.
    read, no_feed = "sk-ant-api01-reader", "sk-ant-api01-no-feed"
    keys = {read: READ_SCOPES, no_feed: NO_FEED_SCOPES}
    async with make_sim(rate=4.0, window=60.0, keys=keys) as sim:

        def remaining(reply: Any) -> int:
            return int(reply.headers["anthropic-ratelimit-requests-remaining"])

        assert remaining(await call(sim, "/apps/projects", key=read)) == 3
        for _ in range(5):
            assert (await call(sim, "/apps/projects", key="bad")).status == 401
        after_401s = await call(sim, "/apps/projects", key=read)
        assert after_401s.status == 200 and remaining(after_401s) == 2  # 401s took nothing
        denied = await call(sim, "/activities", key=no_feed)
        assert denied.status == 403 and remaining(denied) == 1  # a 403 is counted, same budget
        assert remaining(await call(sim, "/apps/projects", key=read)) == 0
        assert (await call(sim, "/apps/projects", key=no_feed)).status == 429

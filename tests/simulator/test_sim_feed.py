"""The Activity Feed over HTTP: parameters, errors, paging, event shapes, scope, lag."""

from __future__ import annotations

from typing import Any

import pytest
from sim_helpers import MakeSim, call

from crawler.simulator import DatasetSpec, Simulator, SimulatorConfig
from crawler.simulator.auth import NO_FEED_SCOPES, READ_SCOPES
from crawler.simulator.timestamps import parse_instant
from tests.conftest import SMALL_SPEC

ACCESSED = "compliance_api_accessed"
PROJECT_TYPES = "activity_types[]=claude_project_created"


async def feed(sim: Simulator, query: str = "", key: str | None = "") -> Any:
    reply = await call(sim, "/activities", raw_query=query, key=key)
    assert reply.status == 200, reply.body
    return reply.json()


def error_type(reply: Any) -> str:
    return str(reply.json()["error"]["type"])


async def test_every_request_leaves_an_accessed_event(sim: Simulator) -> None:
    pid = sim.dataset.cases.empty_project
    await call(sim, "/apps/projects", {"limit": "5"})
    await call(sim, f"/apps/projects/{pid}")
    await call(sim, "/apps/projects/claude_proj_nope")  # a 404 is served too
    await call(sim, "/organizations", key=None)  # a 401: no organisation, no event
    first = await feed(sim, f"activity_types[]={ACCESSED}&order=asc")
    events = first["data"]
    assert [e["request_method"] for e in events] == ["GET", "GET", "GET"]
    assert [e["status_code"] for e in events] == [200, 200, 404]
    assert events[1]["url"].endswith(f"/v1/compliance/apps/projects/{pid}")
    assert "limit=5" in events[0]["url"]
    for e in events:
        assert e["actor"] == {"type": "api_actor"}
        assert e["type"] == ACCESSED
        assert e["organization_id"] is None and e["organization_uuid"] is None
        assert e["request_id"].startswith("req_")
        assert e["id"].startswith("activity_")
        parse_instant(e["created_at"])
        assert "sim_extra" in e  # unknown fields to keep
    # The feed read itself is an event, visible to the next read.
    second = await feed(sim, f"activity_types[]={ACCESSED}&order=asc&after_id={first['last_id']}")
    (read,) = second["data"]
    assert "/v1/compliance/activities?" in read["url"] and read["status_code"] == 200
    reply = await call(sim, "/activities", raw_query=f"activity_types[]={ACCESSED}")
    assert reply.json()["data"][0]["request_id"] != reply.headers["request-id"]  # not yet
    newest = (await feed(sim, f"activity_types[]={ACCESSED}&limit=2"))["data"]
    assert newest[0]["request_id"] == reply.headers["request-id"]  # newest first
    assert "after_id=" in newest[1]["url"]  # the read before it


async def test_ids_sort_with_created_at_and_paging_both_ways(sim: Simulator) -> None:
    sim.mutate(seed=4, fraction=0.1)
    everything = (await feed(sim, "order=asc&limit=5000"))["data"]
    ids = [e["id"] for e in everything]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    instants = [parse_instant(e["created_at"]) for e in everything]
    assert instants == sorted(instants)
    truth = [e["id"] for e in sim.feed.rendered()]
    assert ids == truth[: len(ids)]
    n = len(ids)
    assert n > 20

    # asc, after_id continues; has_more until the end.
    page = await feed(sim, "order=asc&limit=7")
    assert [e["id"] for e in page["data"]] == ids[:7]
    assert (page["first_id"], page["last_id"], page["has_more"]) == (ids[0], ids[6], True)
    page = await feed(sim, f"order=asc&limit=7&after_id={ids[6]}")
    assert [e["id"] for e in page["data"]] == ids[7:14]
    # before_id goes the other way: the 7 just before, still ascending.
    back = await feed(sim, f"order=asc&limit=3&before_id={ids[7]}")
    assert [e["id"] for e in back["data"]] == ids[4:7] and back["has_more"] is True
    back = await feed(sim, f"order=asc&limit=10&before_id={ids[3]}")
    assert [e["id"] for e in back["data"]] == ids[:3] and back["has_more"] is False

    # desc (default): newest first; after_id goes older; before_id newer.
    window = "created_at.lte=" + everything[-1]["created_at"].replace("+", "%2B")
    desc = await feed(sim, f"limit=4&{window}")
    assert [e["id"] for e in desc["data"]] == ids[::-1][:4] and desc["has_more"] is True
    older = await feed(sim, f"limit=4&{window}&after_id={desc['last_id']}")
    assert [e["id"] for e in older["data"]] == ids[::-1][4:8]
    newer = await feed(sim, f"limit=2&{window}&before_id={older['first_id']}")
    assert [e["id"] for e in newer["data"]] == ids[::-1][2:4] and newer["has_more"] is True
    last = await feed(sim, f"order=asc&limit=5000&after_id={ids[-1]}&{window}")
    assert last == {"data": [], "first_id": None, "last_id": None, "has_more": False}


async def test_filters(sim: Simulator) -> None:
    ds = sim.dataset
    changes = sim.mutate(seed=5, fraction=0.1)
    mine = [e for e in sim.feed.rendered() if e["id"] in set(changes.activity_ids)]
    asc = "order=asc&limit=5000"
    types = {e["type"] for e in mine}
    assert {"claude_project_created", "role_assignment_granted"} <= types

    got = (await feed(sim, f"{asc}&activity_types[]=claude_project_created"))["data"]
    assert [e["claude_project_id"] for e in got] == changes.projects_added
    both = "activity_types[]=claude_project_created&activity_types%5B%5D=claude_project_deleted"
    got = (await feed(sim, f"{asc}&{both}"))["data"]
    assert {e["type"] for e in got} == {"claude_project_created", "claude_project_deleted"}
    got = (await feed(sim, f"{asc}&exclude_activity_types[]={ACCESSED}"))["data"]
    assert [e["id"] for e in got] == [e["id"] for e in mine]

    actor = mine[0]["actor"]["user_id"]
    other = next(e["actor"]["user_id"] for e in mine if e["actor"]["user_id"] != actor)
    got = (await feed(sim, f"{asc}&actor_ids[]={actor}"))["data"]
    assert got and all(e["actor"]["user_id"] == actor for e in got)
    assert got == [e for e in mine if e["actor"]["user_id"] == actor]
    merged = (await feed(sim, f"{asc}&actor_ids[]={actor}&user_ids[]={other}"))["data"]
    assert {e["actor"]["user_id"] for e in merged} == {actor, other}
    alias = (await feed(sim, f"{asc}&user_ids[]={actor}"))["data"]
    assert alias == got

    org = ds.orgs[0]
    by_tag = (await feed(sim, f"{asc}&organization_ids[]={org.tagged_id}"))["data"]
    by_uuid = (await feed(sim, f"{asc}&organization_ids[]={org.uuid}"))["data"]
    assert by_tag == by_uuid == [e for e in mine if e["organization_uuid"] == org.uuid]
    assert by_tag and all(e["organization_id"] == org.tagged_id for e in by_tag)

    created = sorted({e["created_at"] for e in mine}, key=parse_instant)
    lo, hi = created[1], created[-1]
    nlo, nhi = parse_instant(lo), parse_instant(hi)
    for op, pred in (
        (f"created_at.gte={lo}", lambda t: t >= nlo),
        (f"created_at.gt={lo}", lambda t: t > nlo),
        (f"created_at.lte={hi}", lambda t: t <= nhi),
        (f"created_at.lt={hi}", lambda t: t < nhi),
    ):
        q = f"{asc}&exclude_activity_types[]={ACCESSED}&{op.replace('+', '%2B')}"
        got = (await feed(sim, q))["data"]
        assert got == [e for e in mine if pred(parse_instant(e["created_at"]))], op
    # Any RFC 3339 spelling of the same instant bounds the same way.
    plus = created[1].replace("Z", "+00:00").replace("+", "%2B")
    q = f"{asc}&exclude_activity_types[]={ACCESSED}&created_at.gte={plus}"
    assert (await feed(sim, q))["data"] == [
        e for e in mine if parse_instant(e["created_at"]) >= nlo
    ]


@pytest.mark.parametrize(
    "query",
    [
        "activity_types[]=a&exclude_activity_types[]=b",
        "after_id=activity_00000000000000000000000000000000&before_id=activity_00000000000000000000000000000000",
        "after_id=nonsense",
        "before_id=activity_short",
        "created_at.gte=2024-01-01",
        "created_at.lt=2024-01-01T00:00:00",
        "created_at.gt=yesterday",
        "limit=0",
        "limit=5001",
        "limit=abc",
        "limit=5&limit=6",
        "order=up",
        "activity_types[]=",
        "page=abc",
        "unknown=1",
    ],
)
async def test_bad_feed_requests_are_400(sim: Simulator, query: str) -> None:
    reply = await call(sim, "/activities", raw_query=query)
    assert reply.status == 400, (query, reply.body)
    assert error_type(reply) == "invalid_request_error"


async def test_limit_default_100_max_5000(make_sim: MakeSim) -> None:
    async with make_sim(dataset=DatasetSpec.small(projects=12, edge_cases=False)) as sim:
        for _ in range(130):
            sim.feed.accessed("req_x", "GET", 200, "http://example/")
        page = await feed(sim)
        assert len(page["data"]) == 100 and page["has_more"] is True
        page = await feed(sim, "limit=5000")
        assert len(page["data"]) == 131 and page["has_more"] is False  # + the first read


async def test_scope_403_and_feed_scope_configurable(make_sim: MakeSim) -> None:
    no_feed = "sk-ant-api01-no-feed"
    async with make_sim(keys={no_feed: NO_FEED_SCOPES, "sk-ant-api01-r": READ_SCOPES}) as sim:
        assert sim.key == "sk-ant-api01-r"
        reply = await call(sim, "/activities", key=no_feed)
        assert reply.status == 403 and error_type(reply) == "permission_error"
        assert reply.json()["error"]["message"] == (
            "Missing required scopes. Got: ['read:compliance_org_data', "
            "'read:compliance_user_data'] Needed: ['read:compliance_activities']"
        )
        assert "anthropic-ratelimit-requests-remaining" in reply.headers  # counted
        assert (await call(sim, "/apps/projects", key=no_feed)).status == 200
        events = (await feed(sim, f"activity_types[]={ACCESSED}&order=asc"))["data"]
        assert [e["status_code"] for e in events] == [403, 200]
        sim.add_key("sk-ant-api01-late", READ_SCOPES)
        assert (await call(sim, "/activities", key="sk-ant-api01-late")).status == 200


async def test_visibility_lag_skips_late_events_behind_the_cursor(make_sim: MakeSim) -> None:
    async with make_sim(feed_lag=120.0) as sim:
        changes = sim.mutate(seed=6, fraction=0.2)
        q = f"order=asc&limit=5000&exclude_activity_types[]={ACCESSED}"
        seen: set[str] = set()
        cursor = None
        # A reader polling every 10 s that only continues from its cursor.
        for _ in range(14):
            page = await feed(sim, q + (f"&after_id={cursor}" if cursor else ""))
            seen |= {e["id"] for e in page["data"]}
            cursor = page["last_id"] or cursor
            sim.feed.advance(10)
        made = set(changes.activity_ids)
        assert seen < made, "some events arrive late, behind the cursor"
        # Re-reading an overlap window by created_at catches them all.
        overlap = await feed(sim, q + f"&created_at.gte={changes.at}")
        assert {e["id"] for e in overlap["data"]} == made
        lags = [e.visible_ns - e.created_ns for e in sim.feed.events if e.id in made]
        assert max(lags) <= 121 * 10**9 and min(lags) < max(lags)


async def test_lag_zero_everything_visible_at_once(sim: Simulator) -> None:
    changes = sim.mutate(seed=7, fraction=0.1)
    got = (await feed(sim, f"order=asc&limit=5000&exclude_activity_types[]={ACCESSED}"))["data"]
    assert [e["id"] for e in got] == sorted(changes.activity_ids)


async def test_by_default_events_are_visible_within_about_a_minute(make_sim: MakeSim) -> None:
    # API.md: "queryable within about a minute of occurring". Unless a test asks
    # otherwise, the simulator says the same: some events are late, none past a minute.
    async with make_sim(SimulatorConfig(dataset=SMALL_SPEC, rate=None)) as sim:
        assert sim.feed.lag == 60.0
        changes = sim.mutate(seed=7, fraction=0.1)
        q = f"order=asc&limit=5000&exclude_activity_types[]={ACCESSED}"
        at_once = {e["id"] for e in (await feed(sim, q))["data"]}
        assert at_once < set(changes.activity_ids)
        sim.feed.advance(60)
        assert [e["id"] for e in (await feed(sim, q))["data"]] == sorted(changes.activity_ids)

"""Each fault kind, and that a retried request gets through in the end."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import time

import aiohttp
import pytest
from sim_helpers import PREFIX, MakeSim, call

from crawler.simulator import EndpointFaults, FaultPlan, Simulator


def first_project(sim: Simulator) -> str:
    return next(p.id for p in sim.dataset.sorted_projects() if not p.gone_on_detail)


async def test_error_rate_statuses_and_retry_header(make_sim: MakeSim) -> None:
    plan = FaultPlan(seed=1, default=EndpointFaults(error_rate=1.0), max_faults_per_url=None)
    async with make_sim(faults=plan) as sim:
        seen = set()
        for i in range(12):
            reply = await call(sim, "/apps/projects", {"limit": str(i + 1)})
            assert reply.status in (500, 502, 503, 529)
            assert reply.headers["x-should-retry"] == "true"
            body = reply.json()
            expected = "overloaded_error" if reply.status == 529 else "api_error"
            assert body["error"]["type"] == expected
            assert "anthropic-ratelimit-requests-limit" in reply.headers
            seen.add(reply.status)
        assert len(seen) >= 2
        assert sum(sim.counters.by_endpoint["projects.list"].values()) == 12


async def test_faults_are_capped_per_url_so_retries_succeed(make_sim: MakeSim) -> None:
    plan = FaultPlan(seed=2, default=EndpointFaults(error_rate=1.0), max_faults_per_url=2)
    async with make_sim(faults=plan) as sim:
        statuses = [(await call(sim, "/organizations")).status for _ in range(3)]
        assert statuses[:2] != [200, 200] and statuses[2] == 200


async def test_fail_first_and_deterministic_500(make_sim: MakeSim) -> None:
    async with make_sim() as sim:
        pid = first_project(sim)
        sim.faults.set("projects.get", fail_first=2)
        statuses = [(await call(sim, f"/apps/projects/{pid}")).status for _ in range(3)]
        assert statuses[0] >= 500 and statuses[1] >= 500 and statuses[2] == 200
        sim.faults.clear()
        sim.faults.always_500_ids.add(pid)
        for _ in range(3):
            reply = await call(sim, f"/apps/projects/{pid}")
            assert reply.status == 500 and reply.headers["x-should-retry"] == "false"
            assert reply.json()["error"]["type"] == "api_error"


async def test_latency(make_sim: MakeSim) -> None:
    async with make_sim(faults=FaultPlan(default=EndpointFaults(latency=(0.15, 0.2)))) as sim:
        start = time.monotonic()
        assert (await call(sim, "/organizations")).status == 200
        assert time.monotonic() - start >= 0.15


async def test_connection_reset(make_sim: MakeSim) -> None:
    async with make_sim() as sim:
        sim.faults.set("organizations", reset_rate=1.0)
        sim.faults.max_faults_per_url = None
        url = sim.base_url + PREFIX + "/organizations"
        async with aiohttp.ClientSession(headers={"x-api-key": sim.key}) as session:
            with pytest.raises(aiohttp.ClientError):
                async with session.get(url) as resp:
                    await resp.read()
        assert sim.counters.by_endpoint["organizations"].get(0, 0) >= 1


async def test_truncated_json_body(make_sim: MakeSim) -> None:
    async with make_sim() as sim:
        sim.faults.set("projects.list", truncate_rate=1.0)
        url = sim.base_url + PREFIX + "/apps/projects"
        async with aiohttp.ClientSession(headers={"x-api-key": sim.key}) as session:
            with pytest.raises(aiohttp.ClientPayloadError):
                async with session.get(url) as resp:
                    assert resp.status == 200
                    assert resp.headers["content-length"]
                    await resp.read()


async def test_truncated_file_stream(make_sim: MakeSim) -> None:
    async with make_sim() as sim:
        sim.faults.set("files.content", truncate_rate=1.0)
        fid = sim.dataset.cases.big_file
        url = sim.base_url + PREFIX + f"/apps/chats/files/{fid}/content"
        async with aiohttp.ClientSession(headers={"x-api-key": sim.key}) as session:
            with pytest.raises(aiohttp.ClientPayloadError):
                async with session.get(url) as resp:
                    assert resp.status == 200
                    await resp.read()


async def test_malformed_json(make_sim: MakeSim) -> None:
    async with make_sim() as sim:
        sim.faults.set("projects.get", malformed_rate=1.0)
        reply = await call(sim, f"/apps/projects/{first_project(sim)}")
        assert reply.status == 200
        with pytest.raises(json.JSONDecodeError):
            json.loads(reply.body)
        # The cap lets the third attempt through, intact.
        await call(sim, f"/apps/projects/{first_project(sim)}")
        good = await call(sim, f"/apps/projects/{first_project(sim)}")
        assert good.json()["id"] == first_project(sim)


async def test_slow_body(make_sim: MakeSim) -> None:
    async with make_sim(chunk_size=1024) as sim:
        sim.faults.set("files.content", chunk_delay=0.02)
        fid = sim.dataset.cases.big_file  # 8 KiB: 8 chunks
        start = time.monotonic()
        reply = await call(sim, f"/apps/chats/files/{fid}/content")
        assert time.monotonic() - start >= 0.14
        assert reply.body == sim.dataset.file(fid).read_bytes()  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", ["bad_content_md5_rate", "corrupt_body_rate"])
async def test_body_and_content_md5_disagree(make_sim: MakeSim, kind: str) -> None:
    async with make_sim() as sim:
        sim.faults.set("files.content", **{kind: 1.0})
        for fid in (sim.dataset.cases.big_file, sim.dataset.cases.zero_byte_file):
            reply = await call(sim, f"/apps/chats/files/{fid}/content")
            assert reply.status == 200
            digest = base64.b64encode(hashlib.md5(reply.body).digest()).decode()
            assert reply.headers["content-md5"] != digest


async def test_forced_token_expiry_fault(make_sim: MakeSim) -> None:
    async with make_sim() as sim:
        token = (await call(sim, "/apps/projects", {"limit": "3"})).json()["next_page"]
        sim.faults.set("projects.list", expire_token_rate=1.0)
        reply = await call(sim, "/apps/projects", {"limit": "3", "page": token})
        assert reply.status == 400 and "expired" in reply.json()["error"]["message"]
        sim.faults.clear()
        again = await call(sim, "/apps/projects", {"limit": "3", "page": token})
        assert again.status == 400  # expiry is for good: restart the walk


async def test_faults_are_deterministic_for_a_seed(make_sim: MakeSim) -> None:
    async def statuses(seed: int) -> list[int]:
        plan = FaultPlan(seed=seed, default=EndpointFaults(error_rate=0.5), max_faults_per_url=None)
        async with make_sim(faults=plan) as sim:
            return [
                (await call(sim, "/apps/projects", {"limit": str(i + 1)})).status for i in range(20)
            ]

    a, b = await asyncio.gather(statuses(9), statuses(9))
    assert a == b and 200 in a and any(s >= 500 for s in a)

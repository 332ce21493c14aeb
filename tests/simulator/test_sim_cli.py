"""``crawler simulate`` as a subprocess: prints base_url and key, serves, exits 0 on SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp

from crawler.simulator import Dataset, DatasetSpec


@asynccontextmanager
async def simulate(*flags: str, lines: int) -> AsyncIterator[dict[str, str]]:
    """``crawler simulate --port=0 --rate=0 FLAGS``: its first ``lines`` ``name=value`` lines.

    On the way out it is sent SIGTERM and must exit 0.
    """
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "crawler",
        "simulate",
        "--port=0",
        "--rate=0",
        *flags,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        said = {}
        for _ in range(lines):
            raw = await asyncio.wait_for(proc.stdout.readline(), 20)
            name, _, value = raw.decode().strip().partition("=")
            said[name] = value
        yield said
    finally:
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 20) == 0


async def test_simulate_subprocess_serves_the_same_dataset() -> None:
    spec = DatasetSpec.small(seed=21, projects=12)
    async with simulate(*spec.to_cli_args(), lines=3) as lines:
        assert lines["base_url"].startswith("http://127.0.0.1:")
        assert lines["projects"] == "12"
        url = lines["base_url"] + "/v1/compliance/apps/projects?limit=100"
        async with (
            aiohttp.ClientSession() as session,
            session.get(url, headers={"x-api-key": lines["key"]}) as resp,
        ):
            body = await resp.json()
        assert [p["id"] for p in body["data"]] == Dataset.generate(spec).project_ids()


async def test_help_documents_flags() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "crawler", "simulate", "--help", stdout=asyncio.subprocess.PIPE
    )
    out, _ = await proc.communicate()
    text = out.decode()
    for flag in (
        "--host",
        "--port",
        "--projects",
        "--seed",
        "--rate",
        "--key",
        "--latency",
        "--error-rate",
        "--mutate-after",
        "--file-size-max",
        "--delete-key",
        "--no-delete-key",
        "--no-feed-scope",
        "--feed-lag",
        "--mutate-bulk",
        "--mutate-noise",
    ):
        assert flag in text


async def test_simulate_keys_and_feed_flags() -> None:
    flags = (
        "--projects=12",
        "--no-feed-scope",
        "--feed-lag=30",
        "--delete-key=sk-ant-api01-mine-to-delete",
    )
    async with simulate(*flags, lines=4) as lines:
        assert lines["delete_key"] == "sk-ant-api01-mine-to-delete"
        base = lines["base_url"] + "/v1/compliance"
        async with aiohttp.ClientSession() as session:
            read = {"x-api-key": lines["key"]}
            async with session.get(base + "/activities", headers=read) as resp:
                assert resp.status == 403
                body = await resp.json()
                assert body["error"]["message"].endswith("['read:compliance_activities']")
            async with session.delete(base + "/apps/projects/claude_proj_x", headers=read) as resp:
                assert resp.status == 403
            deleter = {"x-api-key": lines["delete_key"]}
            async with session.delete(
                base + "/apps/projects/claude_proj_x", headers=deleter
            ) as resp:
                assert resp.status == 404

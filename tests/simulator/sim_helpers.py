"""A tiny aiohttp client for poking the simulator in tests (not the crawler's client)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import aiohttp

from crawler.simulator import Simulator

MakeSim = Callable[..., AbstractAsyncContextManager[Simulator]]

PREFIX = "/v1/compliance"


class Reply:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def json(self) -> Any:
        import json

        return json.loads(self.body)


async def call(
    sim: Simulator,
    path: str,
    params: Any = None,
    *,
    method: str = "GET",
    key: str | None = "",
    headers: dict[str, str] | None = None,
    raw_query: str | None = None,
) -> Reply:
    hdrs = dict(headers or {})
    if key == "":
        key = sim.key
    if key is not None:
        hdrs["x-api-key"] = key
    url = sim.base_url + PREFIX + path
    if raw_query is not None:
        url += "?" + raw_query
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, url, params=params, headers=hdrs) as resp,
    ):
        body = await resp.read()
        return Reply(resp.status, {k.lower(): v for k, v in resp.headers.items()}, body)


async def walk(
    sim: Simulator, path: str, params: dict[str, Any] | None = None
) -> tuple[list[Any], int]:
    """Follow next_page to the end; returns (items, pages)."""
    items: list[Any] = []
    pages = 0
    query: dict[str, Any] = dict(params or {})
    while True:
        reply = await call(sim, path, query)
        assert reply.status == 200, reply.body
        body = reply.json()
        pages += 1
        items += body["data"]
        assert body["has_more"] == (body["next_page"] is not None)
        if body["next_page"] is None:
            return items, pages
        query["page"] = body["next_page"]

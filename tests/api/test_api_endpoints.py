"""Typed endpoints: one id encoding (exactly once, on the wire) and one page walk."""

from __future__ import annotations

from typing import Any

import pytest

from crawler.api import ApiPath, ClientConfig, ComplianceApi, ComplianceClient, Fetched, Page, pages
from crawler.errors import GoneError, RejectedError
from crawler.simulator import DatasetSpec, SimulatorConfig, running_simulator

ODD_ID = "a/b%c+d"


async def test_an_odd_id_reaches_the_simulator_encoded_exactly_once() -> None:
    config = SimulatorConfig(dataset=DatasetSpec(seed=1, projects=2), rate=None)
    async with running_simulator(config) as sim:
        cfg = ClientConfig(base_url=sim.base_url, api_key=sim.key, rate=None, max_attempts=1)
        async with ComplianceClient(cfg) as client:
            with pytest.raises(GoneError) as caught:
                await ComplianceApi(client).project(ODD_ID)
        # The simulator decoded the one segment back to the id itself ...
        assert f"project {ODD_ID} not found" in caught.value.message
        # ... from exactly this on the wire: '/' and '%' escaped once, '+' literal.
        wire = "/v1/compliance/apps/projects/a%2Fb%25c+d"
        assert f"GET {wire}?" in sim.state.decider.attempts
        # The record names the path as sent.
        assert caught.value.path == wire


def test_paths_are_raw_segments_encoded_once() -> None:
    path = ApiPath.of("apps", "projects", ODD_ID, "attachments")
    assert path.segments[-2] == ODD_ID
    assert path.text == "/v1/compliance/apps/projects/a%2Fb%25c+d/attachments"
    assert ApiPath.parse(path.text).segments[-2] == "a%2Fb%25c+d"  # parse never decodes


def _page(token: str | None) -> Page:
    fetched = Fetched("x", "GET", "/v1/compliance/x", (), 200, None, "t", {}, b"{}")
    return Page(items=[{"id": 1}], next_page=token, has_more=token is not None, fetched=fetched)


async def test_one_walk_refuses_a_token_loop_and_caps_pages() -> None:
    async def looping(token: str | None) -> Page:
        return _page("same")

    seen: list[Any] = []
    with pytest.raises(RejectedError, match="twice"):
        async for page in pages(looping, "x"):
            seen.append(page)
    assert len(seen) == 2

    counter = iter(range(1000))

    async def endless(token: str | None) -> Page:
        return _page(f"t{next(counter)}")

    with pytest.raises(RejectedError, match="more than 5 pages"):
        async for _ in pages(endless, "x", max_pages=5):
            pass


async def test_the_walk_asks_for_the_next_page_only_when_taken() -> None:
    asked: list[str | None] = []

    async def two(token: str | None) -> Page:
        asked.append(token)
        return _page(None if token else "next")

    walk = pages(two, "x")
    await walk.__anext__()
    assert asked == [None]  # the first page is stored before the second is requested
    await walk.__anext__()
    assert asked == [None, "next"]

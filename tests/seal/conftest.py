"""The seal's tests crawl a tiny organisation: what they check is the log, not the crawl."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from crawler.simulator import DatasetSpec, Simulator
from tests.conftest import MakeSim

TINY_SPEC = DatasetSpec.small(projects=5)


@pytest.fixture
async def sim(make_sim: MakeSim) -> AsyncIterator[Simulator]:
    async with make_sim(dataset=TINY_SPEC) as running:
        yield running

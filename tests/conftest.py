"""Shared fixtures: a running simulator with a small dataset.

``sim``: started, rate limit off, no faults, ``SMALL_SPEC`` data.
``make_sim``: ``async with make_sim(rate=4.0, faults=...) as sim:``; takes a
``SimulatorConfig`` and/or its fields as keyword arguments (defaults: the small
dataset, rate limit off).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from typing import Any

import pytest

from crawler.simulator import DatasetSpec, Simulator, SimulatorConfig, running_simulator

SMALL_SPEC = DatasetSpec.small()

MakeSim = Callable[..., AbstractAsyncContextManager[Simulator]]


@pytest.fixture
def make_sim() -> MakeSim:
    def factory(config: SimulatorConfig | None = None, **kwargs: Any) -> Any:
        if config is None:
            kwargs.setdefault("dataset", SMALL_SPEC)
            kwargs.setdefault("rate", None)
            config = SimulatorConfig(**kwargs)
        elif kwargs:
            config = replace(config, **kwargs)
        return running_simulator(config)

    return factory


@pytest.fixture
async def sim(make_sim: MakeSim) -> AsyncIterator[Simulator]:
    async with make_sim() as running:
        yield running

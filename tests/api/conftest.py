"""Fixtures for the API layer's tests: a virtual loop clock (time without sleeping)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from types import SimpleNamespace
from typing import Any
from unittest import mock

import aioresponses.core as aioresponses_core
import pytest
from aiohttp import ClientResponse
from aioresponses import aioresponses

TICK = 1e-9
SPIN_LIMIT = 1000


class VirtualClock:
    """The running loop's clock, advanced instantly whenever the loop would sleep.

    ``loop.time()`` returns virtual time, and the selector's ``select(timeout)``
    adds ``timeout`` to it and polls without blocking: timers (asyncio.sleep,
    call_at, the limiter's waker) fire in order, at their exact virtual times,
    with no real waiting. Only for tests that do no real network I/O.
    """

    def __init__(self, start: float) -> None:
        self.now = start
        self.spins = 0

    def time(self) -> float:
        return self.now

    def patch(self, loop: asyncio.AbstractEventLoop) -> Any:
        selector = loop._selector  # type: ignore[attr-defined]
        real_select: Callable[[float | None], Any] = selector.select

        def select(timeout: float | None = None) -> Any:
            if timeout is not None and timeout > 0:
                self.now += timeout
                self.spins = 0
            else:
                # A real clock moves on while the loop spins; a virtual one must too.
                # Float residue in the limiter's spacing (~1e-16) can schedule a wake-up
                # below the loop's clock resolution: "ready now" forever while virtual
                # time stands still (whether it happens depends on the magnitude of
                # loop.time(), i.e. the machine's uptime). Only a long spin ticks, so
                # exact virtual times stay exact in every other case.
                self.spins += 1
                if self.spins >= SPIN_LIMIT:
                    self.now += TICK
                    self.spins = 0
            return real_select(0)

        patches = [
            mock.patch.object(selector, "select", select),
            mock.patch.object(loop, "time", self.time),
        ]
        return patches


@pytest.fixture
async def vclock() -> AsyncIterator[VirtualClock]:
    loop = asyncio.get_running_loop()
    clock = VirtualClock(loop.time())
    patches = clock.patch(loop)
    for p in patches:
        p.start()
    try:
        yield clock
    finally:
        for p in reversed(patches):
            p.stop()


class _CompatResponse(ClientResponse):
    """aioresponses 0.7.9 predates aiohttp 3.12's required ``stream_writer`` argument."""

    def __init__(self, method: str, url: Any, **kwargs: Any) -> None:
        kwargs.setdefault("stream_writer", SimpleNamespace(output_size=0))
        super().__init__(method, url, **kwargs)


@pytest.fixture
def mocked() -> Iterator[aioresponses]:
    """aioresponses, made to work with this aiohttp (see _CompatResponse)."""
    with (
        mock.patch.object(aioresponses_core, "ClientResponse", _CompatResponse),
        aioresponses() as m,
    ):
        yield m

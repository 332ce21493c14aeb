"""RateLimiter: smooth spacing, shared pauses, the server's remaining/reset headers.

Time is virtual (the ``vclock`` fixture): nothing here sleeps for real.
"""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime

import pytest

from crawler.api.limiter import RateLimiter, parse_reset

WALL = datetime(2026, 11, 23, 10, 15, 0, tzinfo=UTC)


async def starts(limiter: RateLimiter, n: int) -> list[float]:
    """Acquire from n concurrent tasks; return each one's start time, in order."""
    loop = asyncio.get_running_loop()

    async def one() -> float:
        await limiter.acquire()
        return loop.time()

    return sorted(await asyncio.gather(*(one() for _ in range(n))))


def max_in_window(times: list[float], window: float = 1.0) -> int:
    """Most starts in any closed window of the given length (a strict sliding window)."""
    return max(sum(1 for u in times if t <= u <= t + window) for t in times)


async def test_smooth_spacing_no_burst(vclock: object) -> None:
    limiter = RateLimiter(4.0, margin=0.01)
    times = await starts(limiter, 12)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    interval = 1 / (4.0 * 0.99)
    assert all(g == pytest.approx(interval, abs=1e-6) for g in gaps)
    assert max_in_window(times) == 4


async def test_no_burst_after_idle(vclock: object) -> None:
    limiter = RateLimiter(4.0)
    await limiter.acquire()
    await asyncio.sleep(30)  # a long idle spell must not bank capacity
    times = await starts(limiter, 5)
    assert times[1] - times[0] == pytest.approx(limiter.interval, abs=1e-6)
    assert max_in_window(times) == 4


async def test_margin_applied() -> None:
    assert RateLimiter(4.0, margin=0.0).interval == pytest.approx(0.25)
    assert RateLimiter(4.0).interval == pytest.approx(0.25 / 0.99)
    assert RateLimiter(10.0, margin=0.05).interval == pytest.approx(0.1 / 0.95)


async def test_without_margin_a_window_can_hold_rate_plus_one(vclock: object) -> None:
    # Why the margin exists: exact spacing puts rate + 1 starts in a closed 1 s window.
    times = await starts(RateLimiter(4.0, margin=0.0), 5)
    assert max_in_window(times) == 5
    times = await starts(RateLimiter(4.0, margin=0.01), 5)
    assert max_in_window(times) == 4


@pytest.mark.parametrize("rate", [None, 0, 0.0])
async def test_unlimited(vclock: object, rate: float | None) -> None:
    limiter = RateLimiter(rate)
    assert limiter.rate is None and limiter.interval is None
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    times = await starts(limiter, 100)
    assert times[-1] == t0


async def test_pause_until_blocks_every_caller(vclock: object) -> None:
    loop = asyncio.get_running_loop()
    limiter = RateLimiter(4.0)
    await limiter.acquire()
    t0 = loop.time()
    limiter.pause_until(t0 + 5)
    times = await starts(limiter, 3)
    assert times[0] >= t0 + 5
    # Released callers are still spaced, not let through together.
    assert times[1] - times[0] == pytest.approx(limiter.interval, abs=1e-6)
    assert times[2] - times[1] == pytest.approx(limiter.interval, abs=1e-6)


async def test_pause_applies_to_unlimited_limiter(vclock: object) -> None:
    loop = asyncio.get_running_loop()
    limiter = RateLimiter(None)
    limiter.pause_for(2.5)
    t0 = loop.time()
    times = await starts(limiter, 3)
    assert times == [t0 + 2.5] * 3


async def test_pause_never_shortened_and_extension_seen_by_waiters(vclock: object) -> None:
    loop = asyncio.get_running_loop()
    limiter = RateLimiter(None)
    t0 = loop.time()
    limiter.pause_until(t0 + 3)
    limiter.pause_until(t0 + 1)  # shorter: ignored
    assert limiter.paused_until == t0 + 3

    waiter = asyncio.create_task(limiter.acquire())
    await asyncio.sleep(2)
    limiter.pause_until(t0 + 10)  # extended while the waiter sleeps
    await waiter
    assert loop.time() == pytest.approx(t0 + 10)


async def test_pause_set_while_queued_in_bucket(vclock: object) -> None:
    loop = asyncio.get_running_loop()
    limiter = RateLimiter(1.0, margin=0.0)
    await limiter.acquire()  # the next slot is 1 s away
    t0 = loop.time()
    waiter = asyncio.create_task(limiter.acquire())
    await asyncio.sleep(0.5)
    limiter.pause_until(t0 + 4)  # a 429 elsewhere, while this one waits for its slot
    await waiter
    assert loop.time() >= t0 + 4


def test_parse_reset_forms() -> None:
    assert parse_reset("2026-11-23T10:15:02Z", WALL) == 2.0
    assert parse_reset("2026-11-23T10:15:00.500000+00:00", WALL) == 0.5
    assert parse_reset("2026-11-23T10:15:01", WALL) == 1.0  # naive: taken as UTC
    assert parse_reset("7", WALL) == 7.0
    assert parse_reset("", WALL) is None
    assert parse_reset("nan", WALL) is None
    assert parse_reset("tomorrow", WALL) is None


async def test_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError):
        RateLimiter(-1.0)
    with pytest.raises(ValueError):
        RateLimiter(4.0, margin=1.0)


def test_must_be_created_in_a_running_loop() -> None:
    with pytest.raises(RuntimeError):
        RateLimiter(4.0)

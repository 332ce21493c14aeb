"""The simulator's rate limit: strict sliding window, documented headers, background consumer.

A fake clock drives the limiter directly (it never reads the loop), and one
HTTP test checks that the headers reach a real client.
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from crawler.simulator.cli import add_arguments, config_from_args
from crawler.simulator.ratelimit import RateLimiter
from tests.simulator.sim_helpers import MakeSim, call

WALL0 = datetime(2026, 11, 23, 10, 0, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def mono(self) -> float:
        return self.t

    def wall(self) -> datetime:
        return WALL0 + timedelta(seconds=self.t - 1000.0)


def make(rate: float, window: float = 1.0, bg: float = 0.0) -> tuple[RateLimiter, Clock]:
    clock = Clock()
    return RateLimiter(rate, window, bg, clock=clock.mono, wall=clock.wall), clock


def reset_in(headers: dict[str, str], clock: Clock) -> float:
    when = datetime.fromisoformat(headers["anthropic-ratelimit-requests-reset"])
    return (when - clock.wall()).total_seconds()


def test_admitted_reset_is_when_the_full_budget_is_back() -> None:
    limiter, clock = make(4)
    for left in (3, 2, 1, 0):
        d = limiter.check()
        assert d.allowed
        assert d.headers["anthropic-ratelimit-requests-limit"] == "4"
        assert d.headers["anthropic-ratelimit-requests-remaining"] == str(left)
        # now + window, whatever is left: not the moment the next slot frees.
        assert reset_in(d.headers, clock) == pytest.approx(1.0, abs=1e-6)
        clock.t += 0.1


def test_refused_reset_and_retry_after() -> None:
    limiter, clock = make(4)
    for _ in range(4):
        assert limiter.check().allowed
        clock.t += 0.2
    d = limiter.check()  # at +0.8: the window is full
    assert not d.allowed
    assert d.headers["anthropic-ratelimit-requests-remaining"] == "0"
    # Full budget back when the newest admitted one (at +0.6) expires.
    assert reset_in(d.headers, clock) == pytest.approx(0.8, abs=1e-6)
    assert d.headers["retry-after"] == "1"
    clock.t += 0.2  # the oldest (at 0) leaves the window exactly now
    assert limiter.check().allowed


def test_strict_sliding_window() -> None:
    limiter, clock = make(4)
    admitted = []
    for i in range(400):  # one attempt every 50 ms for 20 s
        clock.t = 1000.0 + i * 0.05
        if limiter.check().allowed:
            admitted.append(clock.t)
    assert len(admitted) == 80
    assert max(sum(1 for u in admitted if t <= u < t + 1.0) for t in admitted) == 4


def test_configurable_window_like_the_live_service() -> None:
    limiter, clock = make(600, window=60)
    for i in range(600):
        clock.t = 1000.0 + i * 0.01  # all 600 in six seconds: allowed, it is a budget
        d = limiter.check()
        assert d.allowed
    assert d.headers["anthropic-ratelimit-requests-limit"] == "600"
    assert d.headers["anthropic-ratelimit-requests-remaining"] == "0"
    assert reset_in(d.headers, clock) == pytest.approx(60.0, abs=1e-6)
    clock.t += 1
    refused = limiter.check()
    assert not refused.allowed
    assert int(refused.headers["retry-after"]) == 54  # the first one frees at +60 s
    clock.t = 1060.0
    assert limiter.check().allowed


def test_rate_below_one_per_window_stretches_it() -> None:
    limiter, clock = make(0.5)
    assert limiter.check().allowed
    clock.t += 1.5
    assert not limiter.check().allowed
    clock.t += 0.5
    assert limiter.check().allowed


def test_background_consumer_spends_the_same_budget() -> None:
    limiter, clock = make(4, bg=1.0)
    # Configured from the start, it has run for a window already (at t-1, now gone)
    # and takes its slot at t: three are left for the client.
    results = [limiter.check() for _ in range(4)]
    assert [d.allowed for d in results] == [True, True, True, False]
    assert results[0].headers["anthropic-ratelimit-requests-remaining"] == "2"
    assert limiter.background_admitted == 2
    # At 3 per second the client collides with it only while the first window lasts.
    refused = []
    for i in range(1, 30):
        clock.t = 1000.0 + i * (1 / 3 + 0.001)
        if not limiter.check().allowed:
            refused.append(clock.t)
    assert len(refused) == 2 and max(refused) < 1001
    assert limiter.background_admitted == 11 and limiter.background_refused == 0


@pytest.mark.parametrize("clock_at", [23_686.0, 1e6, 1e7, 1e9])
@pytest.mark.parametrize(("rate", "window"), [(10, 1.0), (600, 60.0)])
def test_a_consumer_that_exactly_fills_the_window_is_never_refused(
    clock_at: float, rate: int, window: float
) -> None:
    # Ten a second against a budget of exactly that: each request frees its slot one
    # window later. The monotonic clock stands at the machine's uptime (11 days is
    # 1e6 s), where float rounding must not keep a request a little longer than a
    # window and refuse the next one.
    limiter, clock = make(rate, window)
    clock.t = clock_at
    limiter.set_background(10.0)
    seconds = 4 * window
    for i in range(1, int(seconds / 0.05) + 1):
        clock.t = clock_at + i * 0.05
        limiter._run_background(clock.t)
    assert limiter.background_refused == 0
    assert limiter.background_admitted == pytest.approx(10 * seconds, abs=1)


def test_background_consumer_refused_waits_its_retry_after() -> None:
    limiter, clock = make(2)
    assert limiter.check().allowed and limiter.check().allowed  # full until t+1
    clock.t = 1000.5
    limiter.set_background(1.0)  # its first attempt, now, is refused: retry-after 1
    assert not limiter.check().allowed
    assert limiter.background_refused == 1 and limiter.background_admitted == 0
    clock.t = 1001.4
    d = limiter.check()  # the window is empty, the consumer has not come back yet
    assert d.allowed and d.headers["anthropic-ratelimit-requests-remaining"] == "1"
    clock.t = 1001.6  # it came back at 1001.5 and took the last slot
    assert not limiter.check().allowed
    assert limiter.background_admitted == 1 and limiter.background_refused == 1


def test_background_consumer_stops() -> None:
    limiter, clock = make(4, bg=2.0)
    clock.t += 5
    limiter.check()
    before = limiter.background_admitted
    limiter.set_background(0)
    clock.t += 5
    d = limiter.check()
    assert limiter.background_admitted == before
    assert d.headers["anthropic-ratelimit-requests-remaining"] == "3"


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        RateLimiter(4, window=0)
    with pytest.raises(ValueError):
        RateLimiter(4, background_rps=-1)


def test_cli_flags() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    cfg = config_from_args(
        parser.parse_args(["--rate", "600", "--window", "60", "--background-rps", "4"])
    )
    assert (cfg.rate, cfg.window, cfg.background_rps) == (600, 60, 4)
    for bad in (["--window", "0"], ["--background-rps", "-1"], ["--window", "nan"]):
        with pytest.raises(SystemExit):
            parser.parse_args(bad)


async def test_headers_over_http(make_sim: MakeSim) -> None:
    async with make_sim(rate=600.0, window=60.0, background_rps=0.0) as sim:
        reply = await call(sim, "/apps/projects")
        assert reply.status == 200
        assert reply.headers["anthropic-ratelimit-requests-limit"] == "600"
        assert reply.headers["anthropic-ratelimit-requests-remaining"] == "599"
        reset = datetime.fromisoformat(reply.headers["anthropic-ratelimit-requests-reset"])
        assert 59 < (reset - datetime.now(UTC)).total_seconds() <= 60
        sim.state.limiter.set_background(1000.0)  # another key takes everything left
        await asyncio.sleep(0.7)
        reply = await call(sim, "/apps/projects")
        assert reply.status == 429
        assert sim.counters.rate_limited == 1 and sim.counters.total == 2
        assert sim.state.limiter.background_admitted == 599

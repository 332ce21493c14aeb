"""RateLimiter against a shared budget: own pace, other consumers, odd headers.

The server side is the simulator's own rate limiter (a strict sliding window
that reports ``reset`` as documented, with an optional background consumer),
run on the same virtual loop clock as the client's limiter: workers acquire,
the server decides at the start, the headers come back after a latency. No
real time passes (the ``vclock`` fixture).
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from crawler.api.limiter import RateLimiter
from crawler.simulator.ratelimit import RateLimiter as ServerLimiter

WALL0 = datetime(2026, 11, 23, 10, 0, 0, tzinfo=UTC)


@dataclass
class Run:
    """Starts the server admitted and refused, by loop time."""

    admitted: list[float] = field(default_factory=list)
    refused: list[float] = field(default_factory=list)

    def rate(self, start: float, end: float) -> float:
        return sum(1 for t in self.admitted if start <= t < end) / (end - start)

    def refused_in(self, start: float, end: float) -> int:
        return sum(1 for t in self.refused if start <= t < end)


class Harness:
    """A client limiter and a server limiter sharing the virtual loop clock and a wall clock."""

    def __init__(self, rate: float, window: float = 1.0, background: float = 0.0) -> None:
        self.loop = asyncio.get_running_loop()
        self.t0 = self.loop.time()
        self.server = ServerLimiter(rate, window, background, clock=self.loop.time, wall=self.wall)
        self.run = Run()

    def wall(self) -> datetime:
        return WALL0 + timedelta(seconds=self.loop.time() - self.t0)

    def client(self, rate: float | None, **kw: object) -> RateLimiter:
        return RateLimiter(rate, wall_clock=self.wall, **kw)  # type: ignore[arg-type]

    async def drive(
        self,
        limiter: RateLimiter,
        seconds: float,
        *,
        workers: int = 8,
        latency: tuple[float, float] = (0.1, 0.4),
        seed: int = 1,
    ) -> None:
        """``workers`` callers request back to back for ``seconds`` of loop time."""
        rng = random.Random(seed)
        end = self.loop.time() + seconds

        async def worker() -> None:
            while self.loop.time() < end:
                started = await limiter.acquire()
                decision = self.server.check()
                (self.run.admitted if decision.allowed else self.run.refused).append(started)
                await asyncio.sleep(rng.uniform(*latency))
                limiter.observe_headers(decision.headers, started, counted=decision.allowed)
                if not decision.allowed:
                    limiter.pause_for(float(decision.headers["retry-after"]))

        await asyncio.gather(*(worker() for _ in range(workers)))

    async def visit(
        self,
        limiter: RateLimiter,
        rps: float,
        *,
        before: float,
        during: float,
        after: float,
        seed: int = 2,
    ) -> tuple[float, float]:
        """Alone, then another consumer at ``rps`` for ``during`` seconds, then alone again.

        Returns when the other consumer came and when it went (loop times).
        """
        await self.drive(limiter, before)
        came = self.loop.time()
        self.server.set_background(rps)
        await self.drive(limiter, during, seed=seed)
        went = self.loop.time()
        self.server.set_background(0.0)
        await self.drive(limiter, after, seed=seed + 1)
        return came, went

    def at(self, seconds: float) -> float:
        return self.t0 + seconds


async def test_own_pace_at_the_limit_never_pauses(vclock: object) -> None:
    h = Harness(4)
    limiter = h.client(4.0)
    await h.drive(limiter, 60)
    # remaining is 0 on most responses, and that is our own doing: no pause, no 429.
    assert h.run.refused == []
    assert limiter.pauses == 0
    assert h.run.rate(h.at(0), h.at(60)) >= 0.98 * 4
    assert limiter.budget.others(h.loop.time()) == 0


async def test_remaining_zero_from_our_own_starts_is_no_reason_to_wait(vclock: object) -> None:
    h = Harness(4)
    limiter = h.client(4.0)
    decisions = []
    for _ in range(4):
        started = await limiter.acquire()
        decisions.append((started, h.server.check()))
    assert decisions[-1][1].headers["anthropic-ratelimit-requests-remaining"] == "0"
    for started, d in decisions:
        limiter.observe_headers(d.headers, started)
    started = await limiter.acquire()
    assert started == pytest.approx(decisions[-1][0] + 1 / (4 * 0.99), abs=1e-6)


async def test_another_consumer_appears_and_leaves(vclock: object) -> None:
    # A budget of 5/s, our ceiling 4/s: a newcomer at 2/s finds room, and 3/s are left.
    # (With a ceiling of the whole budget a newcomer that honours retry-after may never
    # get in, so we would never see it: that is what auto's reserve is for.)
    h = Harness(5)
    limiter = h.client(4.0)
    came, went = await h.visit(limiter, 2.0, before=20, during=30, after=20)
    alone = h.run.rate(h.at(0), came)
    shared = h.run.rate(came + 3, went)
    after = h.run.rate(went + 3, h.loop.time())
    assert alone >= 0.98 * 4
    assert 0.95 * 3 <= shared <= 3.0  # slowed to what is left...
    assert after >= 0.98 * 4  # ...and back to the ceiling once the other has gone
    # No burst of 429s: a few while the newcomer is being noticed, none after.
    assert h.run.refused_in(came, came + 3) <= 2
    assert h.run.refused_in(came + 3, h.loop.time()) == 0
    assert h.server.background_refused <= 2
    assert limiter.summary()["yielded_requests"] > 20


async def test_auto_yields_to_a_newcomer_and_climbs_back(vclock: object) -> None:
    h = Harness(4)
    limiter = h.client(None, auto=True)  # 3.2/s of the 4: the reserve lets a newcomer in
    came, went = await h.visit(limiter, 1.0, before=10, during=20, after=10)
    assert h.run.rate(h.at(2), came) >= 0.97 * 3.2
    assert 0.95 * 3 <= h.run.rate(came + 3, went) <= 3.0
    assert h.run.rate(went + 3, h.loop.time()) >= 0.97 * 3.2
    assert len(h.run.refused) <= 2 and h.server.background_refused <= 2


async def test_auto_rate_on_the_live_window_with_a_siem_connector(vclock: object) -> None:
    # 600 per minute, another consumer at 4/s (240 a window): 6/s are left,
    # auto's own ceiling is 8/s (20% reserve), so 6/s is the pace.
    h = Harness(600, window=60, background=4.0)
    limiter = h.client(None, auto=True)
    await h.drive(limiter, 150, workers=16)
    assert limiter.ceiling == pytest.approx(8.0, rel=0.01)
    assert h.run.rate(h.at(10), h.at(150)) >= 0.95 * 6
    assert len(h.run.refused) <= 0.01 * len(h.run.admitted)
    summary = limiter.summary()
    assert summary["mode"] == "auto" and summary["server_limit"] == 600
    assert summary["server_window"] == pytest.approx(60, abs=0.01)
    assert summary["others_peak_rate"] == pytest.approx(4.0, abs=0.3)


async def test_auto_rate_alone_keeps_the_reserve(vclock: object) -> None:
    h = Harness(10)
    limiter = h.client(None, auto=True, reserve=0.2)
    await h.drive(limiter, 30)
    assert limiter.ceiling == pytest.approx(8.0, rel=0.01)
    assert 0.97 * 8 <= h.run.rate(h.at(2), h.at(30)) <= 8.0
    assert h.run.refused == []


async def test_rate_is_a_hard_ceiling_even_when_the_server_allows_more(vclock: object) -> None:
    h = Harness(10)
    limiter = h.client(3.0)
    await h.drive(limiter, 20)
    assert h.run.rate(h.at(0), h.at(20)) <= 3.0


async def test_nothing_left_waits_for_reset_then_resumes(vclock: object) -> None:
    h = Harness(4, window=2.0)
    limiter = h.client(2.0)
    # The other consumer at 10/s takes every slot that frees.
    came, went = await h.visit(limiter, 10.0, before=10, during=20, after=10, seed=4)
    # Starved: a handful of probes, each refused, spaced by reset/retry-after: no burst.
    assert h.run.refused_in(came, went) <= 12
    assert h.run.rate(went + 3, h.loop.time()) >= 0.95 * 2


def responses(remaining: str | None, reset: str | None, limit: str | None = "4") -> dict[str, str]:
    out = {}
    for name, value in (("limit", limit), ("remaining", remaining), ("reset", reset)):
        if value is not None:
            out[f"anthropic-ratelimit-requests-{name}"] = value
    return out


async def learn_window(h: Harness, limiter: RateLimiter) -> None:
    await h.drive(limiter, 3)
    assert limiter.budget.window == pytest.approx(1.0, abs=1e-6)


async def test_reset_far_in_the_future_stalls_no_longer_than_two_windows(vclock: object) -> None:
    h = Harness(4)
    limiter = h.client(4.0)
    await learn_window(h, limiter)
    far = (h.wall() + timedelta(days=2)).isoformat()
    started = await limiter.acquire()
    for _ in range(3):  # others (so it says) hold the whole budget until the day after tomorrow
        limiter.observe_headers(responses("0", far, limit="40"), started)
    assert limiter.budget.others(h.loop.time()) >= 36
    before = h.loop.time()
    await limiter.acquire()
    assert 0 < h.loop.time() - before <= 2.0 + 1e-6
    assert limiter.budget.window == pytest.approx(1.0, abs=1e-6)  # a 2-day window is not learnt


async def test_reset_far_in_the_future_before_the_window_is_known(vclock: object) -> None:
    h = Harness(4)
    limiter = h.client(4.0)
    far = (h.wall() + timedelta(days=2)).isoformat()
    started = await limiter.acquire()
    limiter.observe_headers(responses("0", far), started)
    assert limiter.budget.window is None
    before = h.loop.time()
    await limiter.acquire()
    assert h.loop.time() - before == pytest.approx(limiter.interval, abs=1e-6)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        responses("0", None, None),
        responses(None, "2026-11-23T10:00:01Z"),
        responses("zero", "2026-11-23T10:00:01Z"),
        responses("-3", "2026-11-23T10:00:01Z"),
        responses("0", "2026-11-23T10:00:01Z", limit="many"),
        responses("0", "2026-11-23T10:00:01Z", limit="0"),
        responses("0", "soon"),
        responses("0", ""),
    ],
)
async def test_missing_or_malformed_headers_change_nothing(
    vclock: object, headers: dict[str, str]
) -> None:
    h = Harness(4)
    limiter = h.client(4.0)
    for _ in range(5):
        started = await limiter.acquire()
        limiter.observe_headers(headers, started)
    assert limiter.pauses == 0
    assert limiter.budget.others(h.loop.time()) == 0
    assert limiter.pace() == 4.0
    before = h.loop.time()
    await limiter.acquire()
    assert h.loop.time() - before == pytest.approx(1 / (4 * 0.99), abs=1e-6)


async def test_malformed_headers_keep_what_was_learnt(vclock: object) -> None:
    h = Harness(4, background=1.0)
    limiter = h.client(4.0)
    await h.drive(limiter, 5)
    assert limiter.pace() == pytest.approx(3.0, rel=0.01)
    started = await limiter.acquire()
    limiter.observe_headers(responses("lots", "never", limit=None), started)
    assert limiter.budget.window == pytest.approx(1.0, abs=1e-6)
    assert limiter.pace() == pytest.approx(3.0, rel=0.01)


async def test_a_429_start_is_forgotten(vclock: object) -> None:
    h = Harness(4)
    limiter = h.client(4.0)
    await learn_window(h, limiter)
    now = h.loop.time()
    own = limiter.budget.own_between(now - 1, now)
    started = await limiter.acquire()
    assert limiter.budget.own_between(now - 1, started) == own + 1
    limiter.observe_headers(responses("0", None), started, counted=False)
    assert limiter.budget.own_between(now - 1, started) == own


async def test_unlimited_ignores_the_budget(vclock: object) -> None:
    h = Harness(4)
    limiter = h.client(None)
    started = await limiter.acquire()
    limiter.observe_headers(responses("0", h.wall().isoformat()), started)
    t0 = h.loop.time()
    for _ in range(20):
        await limiter.acquire()
    assert h.loop.time() == t0
    assert limiter.summary()["mode"] == "unlimited"


def test_reserve_is_checked() -> None:
    async def make() -> None:
        RateLimiter(None, auto=True, reserve=1.0)

    with pytest.raises(ValueError):
        asyncio.run(make())


async def test_auto_without_headers_keeps_the_default_rate(vclock: object) -> None:
    h = Harness(4)
    limiter = h.client(None, auto=True)
    for _ in range(5):
        started = await limiter.acquire()
        limiter.observe_headers({}, started)
    assert limiter.ceiling == 4.0 and limiter.pace() == 4.0
    assert limiter.summary()["server_limit"] is None

"""One rate limiter for every request of a run: our pace, the shared budget, pauses.

The server's budget is shared by every key of the organisation (600 requests
a minute on the live service, 4 a second by this project's default), and its
``anthropic-ratelimit-requests-*`` headers are read as a *budget*, not as an
alarm. Four things decide when a request may start, and all live here so
that no other code sleeps on its own schedule (except the retry backoff,
which still comes back through :meth:`RateLimiter.acquire`):

1. **The ceiling**: ``rate`` requests per second, a hard ceiling. With
   ``auto`` it is taken from the server instead: ``limit / window`` minus a
   ``reserve`` (20% by default) kept for other consumers; until the first
   response says so, ``rate`` (default 4, the documented budget) is used.
2. **The pace**: ``min(ceiling, what the others leave)``, where "what the
   others leave" is ``(limit - others) / window`` and ``others`` is what
   :class:`~crawler.api.budget.ServerBudget` works out from each response:
   the window's use (``limit - remaining``) minus our own starts in it (own-
   usage accounting). At our own full pace ``remaining`` is 0 on most
   responses and ``others`` is 0: no reason to stop, our spacing already
   keeps us inside the window. When someone else spends part of the budget,
   the pace drops to what is left; when they go, ``others`` falls back to 0
   within a window and the pace climbs back to the ceiling. Starts are spaced
   smoothly at ``1 / (pace * (1 - margin))``, never in a burst: the server
   counts a strict sliding window, so a burst after an idle spell could be
   one too many in some window, and the margin (1%) keeps timer jitter from
   fitting ``rate + 1`` starts into one. The spacing runs from when a start
   was due, not from when the loop got round to it (up to a tenth of an
   interval late), so late timers do not slow the run down for good.
3. **The window**: a start must fit it, our starts still in the window plus
   ``others`` below ``limit``. Each of our starts leaves the window at its
   own response's ``reset`` (the server's admission + window: a request
   that reached the server late, behind a busy loop or a slow network,
   leaves late too), or at start + window until its response says so. When
   a start does not fit, it waits for enough of ours to leave, or, when the
   others alone fill the window (nothing is left), until their ``reset``,
   when the full budget is back. So a shortfall is waited out instead of
   spent on 429s, and spacing alone never has to absorb transit jitter.
4. **A pause that blocks every caller**, set after a 429 for the server's
   ``retry-after`` (the client does that, through :meth:`RateLimiter.pause_for`).
   It is a floor: nothing here starts a request earlier.

``None`` or ``0`` for the rate (without ``auto``) means unlimited
(benchmarks): no spacing, no budget; pauses still apply.

Callers take turns (an ``asyncio.Lock``, first come first served): only the
first in line waits for the next start, the others wait for it, so a slot
does not wake every caller. Fresh headers that could let it start earlier
(the others spent less) wake it.

Starting at the full budget (``--rate`` equal to it) leaves no room for a
consumer that comes later: the server admits whoever comes first, and one
that honours ``retry-after`` may then never get in, so we would never see
it. That is what ``auto``'s reserve is for.

The limiter is acquired when a request starts and is never *held*: a slow
body download does not keep the next request from starting on time.
:meth:`RateLimiter.acquire` returns the start's time, which the client hands
back with the response's headers (:meth:`RateLimiter.observe_headers`), so
that each response is compared with what we had started by then.

Time is the event loop's clock (``loop.time()``), so tests drive it by
patching the loop clock rather than by sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from crawler.api.budget import RESET_HEADER, ServerBudget, parse_reset
from crawler.config import DEFAULT_RATE, DEFAULT_RATE_RESERVE

__all__ = ["RESET_HEADER", "RateLimiter", "parse_reset"]

LATE_FORGIVEN = 0.1  # of an interval: how late a start may be and keep its slot


def _utcnow() -> datetime:
    return datetime.now(UTC)


class RateLimiter:
    """The run's shared limiter. Must be created inside the running event loop."""

    def __init__(
        self,
        rate: float | None,
        margin: float = 0.01,
        *,
        auto: bool = False,
        reserve: float = DEFAULT_RATE_RESERVE,
        wall_clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        if rate is not None and rate < 0:
            raise ValueError("rate must be positive, or 0/None for unlimited")
        if not 0 <= margin < 1:
            raise ValueError("rate margin must be in [0, 1)")
        if not 0 <= reserve < 1:
            raise ValueError("rate reserve must be in [0, 1)")
        self._loop = asyncio.get_running_loop()
        self.auto = auto
        self.rate = (rate or DEFAULT_RATE) if auto else (rate or None)
        self.margin = margin
        self.reserve = reserve
        self.budget = ServerBudget()
        self._wall_clock = wall_clock
        self._paused_until = 0.0  # loop time; 0 = not paused
        self._last_start = -float("inf")
        self._slot = -float("inf")  # when the last start was due by the spacing
        self._news = asyncio.Event()
        self._turn = asyncio.Lock()
        self.pauses = 0  # how many times a pause was set or extended (for stats)
        self.started = 0
        self._first_start: float | None = None
        self._yielded = 0.0  # requests left to others: integral of (ceiling - pace)
        self._yield_t: float | None = None
        self._others_peak = 0.0

    # -- the figures ------------------------------------------------------------------------

    @property
    def ceiling(self) -> float | None:
        """Requests per second we never exceed (None: unlimited)."""
        if self.auto:
            limit, window = self.budget.limit, self.budget.window
            if limit is not None and window is not None:
                return (1.0 - self.reserve) * limit / window
        return self.rate

    def pace(self, now: float | None = None) -> float | None:
        """The current target: the ceiling, or less when others spend the budget."""
        ceiling = self.ceiling
        if ceiling is None:
            return None
        left = self.budget.left_rate(self.time() if now is None else now)
        return ceiling if left is None else min(ceiling, left)

    @property
    def interval(self) -> float | None:
        """Seconds between two starts at the current pace; None = unlimited."""
        return self._interval(self.time())

    def _interval(self, now: float) -> float | None:
        pace = self.pace(now)
        if pace is None:
            return None
        # Nothing left at all: the window test holds the start, not the spacing.
        pace = pace if pace > 0 else (self.ceiling or DEFAULT_RATE)
        return 1.0 / (pace * (1.0 - self.margin))

    @property
    def paused_until(self) -> float:
        """Loop time until which every caller waits (in the past when not paused)."""
        return self._paused_until

    def time(self) -> float:
        return self._loop.time()

    # -- starting ---------------------------------------------------------------------------

    async def acquire(self) -> float:
        """Wait until this request may start; returns its start time (pass it back with
        :meth:`observe_headers`). Nothing is held after it returns."""
        # One caller at a time works out its start (first come, first served); the
        # rest queue on the lock instead of all waking up for every slot.
        async with self._turn:
            while True:
                now = self._loop.time()
                wake = self._ready_at(now)
                if wake <= now:
                    self._record_start(now)
                    return now
                await self._sleep(wake - now)

    def _ready_at(self, now: float) -> float:
        wake = max(self._paused_until, now)
        interval = self._interval(now)
        if interval is None:
            return wake
        return max(wake, self._slot + interval, self.budget.fits_at(now))

    async def _sleep(self, delay: float) -> None:
        # Fresh headers can speed us up (the others left): wake on them too.
        news = self._news
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay):
                await news.wait()

    def _record_start(self, now: float) -> None:
        self._account(now)
        self._last_start = now
        # Spacing runs from when this start was due, not from when the loop got round
        # to it: a timer that fires a millisecond late must not cost a millisecond a
        # request, for ever. Only a little late (a tenth of the interval): an idle
        # spell banks nothing, and the window test still has the last word.
        interval = self._interval(now)
        if interval is not None:
            due = self._slot + interval
            self._slot = due if due <= now <= due + interval * LATE_FORGIVEN else now
        self.started += 1
        if self._first_start is None:
            self._first_start = now
        if self.ceiling is not None:
            self.budget.started(now)

    # -- pauses -----------------------------------------------------------------------------

    def pause_until(self, loop_time: float) -> None:
        """Block every caller until ``loop_time`` (the loop's clock). Never shortens a pause."""
        if loop_time > self._paused_until:
            self._paused_until = loop_time
            self.pauses += 1

    def pause_for(self, seconds: float) -> None:
        """Block every caller for ``seconds`` from now."""
        if seconds > 0:
            self.pause_until(self._loop.time() + seconds)

    # -- the server's word ------------------------------------------------------------------

    def observe_headers(
        self, headers: Mapping[str, str], started: float | None = None, *, counted: bool = True
    ) -> None:
        """Learn from one response's ``anthropic-ratelimit-requests-*`` headers.

        ``started``: what :meth:`acquire` returned for this request (default: now).
        ``counted``: False for a 429, which the server did not admit.
        ``headers`` should be case-insensitive (aiohttp's are); lower-case keys work too.
        """
        if self.ceiling is None:
            return
        now = self._loop.time()
        reset = headers.get(RESET_HEADER)
        reset_in = parse_reset(reset, self._wall_clock()) if reset is not None else None
        self._account(now)
        when = now if started is None else started
        pace, others = self.pace(now), self.budget.others(now)
        if self.budget.observe(headers, when, now, reset_in, counted=counted):
            window = self.budget.window
            if window:
                self._others_peak = max(self._others_peak, self.budget.others(now) / window)
            # Only better news can let a waiter start earlier than it planned.
            if (self.pace(now) or 0) > (pace or 0) or self.budget.others(now) < others:
                self._news.set()
                self._news = asyncio.Event()

    def _account(self, now: float) -> None:
        """Add up the requests yielded to others since the last call."""
        ceiling, pace = self.ceiling, self.pace(now)
        if self._yield_t is not None and ceiling is not None and pace is not None:
            self._yielded += max(0.0, ceiling - pace) * (now - self._yield_t)
        self._yield_t = now

    def summary(self) -> dict[str, Any]:
        """What the run's pacing came to, for the manifest (rates in requests per second)."""
        now = self.time()
        self._account(now)
        span = self._last_start - self._first_start if self._first_start is not None else 0.0
        ceiling = self.ceiling
        return {
            "mode": "auto" if self.auto else ("fixed" if self.rate else "unlimited"),
            "ceiling": None if ceiling is None else round(ceiling, 3),
            "reserve": self.reserve if self.auto else None,
            "server_limit": self.budget.limit,
            "server_window": None if self.budget.window is None else round(self.budget.window, 3),
            "requests": self.started,
            "achieved_rate": round((self.started - 1) / span, 3) if span > 0 else None,
            "yielded_requests": round(self._yielded, 1),
            "others_peak_rate": round(self._others_peak, 3),
            "pauses": self.pauses,
        }

    def __repr__(self) -> str:
        paused = max(0.0, self._paused_until - self._loop.time())
        return (
            f"<RateLimiter rate={self.rate!r} auto={self.auto} pace={self.pace()!r}"
            f" paused_for={paused:.3f}s>"
        )

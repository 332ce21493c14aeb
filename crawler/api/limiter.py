"""One rate limiter for every request of a run.

Three things decide when a request may start, and all live here so that no
other code sleeps on its own schedule (except the retry backoff, which still
comes back through :meth:`RateLimiter.acquire`):

1. Smooth spacing at ``rate`` requests per second, with no burst: an
   ``AsyncLimiter(1, interval)`` leaky bucket holds one request, so the n-th
   request starts no earlier than ``(n - 1) * interval`` after the first.
   ``AsyncLimiter(4, 1)`` would let four through at once, and the server
   counts a strict sliding one-second window, so a burst after an idle spell
   could be the fifth request in some window. The interval is stretched by a
   small margin (1% by default) so that timer jitter cannot fit ``rate + 1``
   starts into one second either.
2. A pause that blocks every caller: set after a 429 (the server's
   ``retry-after``) and when the server says ``...-requests-remaining: 0``.
3. ``None`` or ``0`` for the rate means unlimited (benchmarks); pauses still apply.

The limiter is acquired when a request starts and is never *held*: a slow
body download does not keep the next request from starting on time.

Time is the event loop's clock (``loop.time()``), so tests drive it by
patching the loop clock rather than by sleeping.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from aiolimiter import AsyncLimiter

REMAINING_HEADER = "anthropic-ratelimit-requests-remaining"
RESET_HEADER = "anthropic-ratelimit-requests-reset"

# The live window is one minute; a reset further away than this is a clock
# skew or a malformed header, and must not stall the run indefinitely.
MAX_RESET_WAIT = 120.0


def _utcnow() -> datetime:
    return datetime.now(UTC)


def parse_reset(value: str, now: datetime) -> float | None:
    """Seconds from ``now`` until a ``...-requests-reset`` value, or None if unreadable.

    The documented form is RFC 3339; a bare number of seconds is accepted too.
    """
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) else None
    try:
        # fromisoformat in 3.11 reads "Z" and fractional seconds of any length.
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return (when - now).total_seconds()


class RateLimiter:
    """The run's shared limiter: smooth spacing plus a pause that blocks everyone.

    Must be created inside the running event loop (the bucket and the pause
    both use that loop's clock).
    """

    def __init__(
        self,
        rate: float | None,
        margin: float = 0.01,
        *,
        wall_clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        if rate is not None and rate < 0:
            raise ValueError("rate must be positive, or 0/None for unlimited")
        if not 0 <= margin < 1:
            raise ValueError("rate margin must be in [0, 1)")
        self._loop = asyncio.get_running_loop()
        self.rate = rate or None
        self.margin = margin
        # Seconds between two request starts; None = unlimited.
        self.interval: float | None = None
        self._bucket: AsyncLimiter | None = None
        if self.rate is not None:
            self.interval = 1.0 / (self.rate * (1.0 - margin))
            self._bucket = AsyncLimiter(1, self.interval)
        self._wall_clock = wall_clock
        self._paused_until = 0.0  # loop time; 0 = not paused
        self.pauses = 0  # how many times a pause was set or extended (for stats)

    @property
    def paused_until(self) -> float:
        """Loop time until which every caller waits (in the past when not paused)."""
        return self._paused_until

    def time(self) -> float:
        return self._loop.time()

    async def acquire(self) -> None:
        """Wait until this request may start. Returns immediately after; nothing is held."""
        while True:
            await self._wait_out_pause()
            if self._bucket is not None:
                await self._bucket.acquire()
            # A pause set while we queued in the bucket wins: wait it out and
            # go through the bucket again, so that the callers released when
            # a pause ends are spaced like any others rather than all at once.
            if self._paused_until <= self._loop.time():
                return

    async def _wait_out_pause(self) -> None:
        # Re-read after each sleep: the pause may have been extended meanwhile.
        while (delay := self._paused_until - self._loop.time()) > 0:
            await asyncio.sleep(delay)

    def pause_until(self, loop_time: float) -> None:
        """Block every caller until ``loop_time`` (the loop's clock). Never shortens a pause."""
        if loop_time > self._paused_until:
            self._paused_until = loop_time
            self.pauses += 1

    def pause_for(self, seconds: float) -> None:
        """Block every caller for ``seconds`` from now."""
        if seconds > 0:
            self.pause_until(self._loop.time() + seconds)

    def observe_headers(self, headers: Mapping[str, str]) -> None:
        """Honour ``anthropic-ratelimit-requests-remaining: 0`` by pausing until ``-reset``.

        ``headers`` should be case-insensitive (aiohttp's are); lower-case keys work too.
        """
        remaining = headers.get(REMAINING_HEADER)
        if remaining is None:
            return
        try:
            left = int(remaining.strip())
        except ValueError:
            return
        if left > 0:
            return
        reset = headers.get(RESET_HEADER)
        wait = parse_reset(reset, self._wall_clock()) if reset is not None else None
        if wait is None:
            # Out of budget with no usable reset: the window is a second at
            # our rate, so a one-interval pause is the least we can assume.
            wait = self.interval or 1.0
        self.pause_for(min(wait, MAX_RESET_WAIT))

    def __repr__(self) -> str:
        paused = max(0.0, self._paused_until - self._loop.time())
        return f"<RateLimiter rate={self.rate!r} margin={self.margin!r} paused_for={paused:.3f}s>"

"""The shared request budget, as the ``anthropic-ratelimit-requests-*`` headers describe it.

The server counts admitted requests over a sliding window of ``W`` seconds
and holds ``limit`` of them, for every key of the organisation together
(API.md, "Rate limits"). Each response says ``remaining`` (what the window
had left just after admitting it) and ``reset`` (when the *full* budget is
back: admission + ``W``). So one response tells us how much of the window
was used, ``limit - remaining``; subtracting our own requests the server
still counted at that moment leaves what *someone else* spent:

    others = (limit - remaining) - our starts up to this one still in the window

Each of our starts leaves the window at its own response's ``reset``
(exactly when the server lets it go, transit included), or at start + ``W``
until its response says so.

Nothing here pauses or sleeps: :class:`ServerBudget` answers "how fast may
we go" (:meth:`ServerBudget.left_rate`) and "from when does one more start
fit the window" (:meth:`ServerBudget.fits_at`); the limiter acts on both.

- The window is learnt, not assumed: for an admitted request
  ``reset - (wall time of our start) = W + transit >= W``, so the smallest
  such figure over recent responses estimates ``W`` from above by the
  quickest transit. A server whose clock is off skews it by the offset; a
  ``reset`` given to the whole second makes it up to 1 s short (a start
  then never leaves before start + that estimate). Figures above
  :data:`MAX_WINDOW` are ignored (the live window is a minute).
- ``others`` is the median of the last three estimates, so one request that
  the server and we place on opposite sides of the window's edge neither
  slows us nor lets us overspend. It stays valid until that response's
  ``reset`` (capped at two windows): by then every request it counted has
  left the window, and fresh responses say what the other consumer does now.
- A 429 was not admitted, so its start is forgotten (it used nothing), and
  its headers still measure ``others``; the window is learnt from admitted
  requests only (a 429's ``reset`` is not admission + ``W``).
- Missing or malformed headers teach nothing; what was learnt stays.
"""

from __future__ import annotations

import bisect
import contextlib
import math
import statistics
from collections import deque
from collections.abc import Mapping
from datetime import UTC, datetime

LIMIT_HEADER = "anthropic-ratelimit-requests-limit"
REMAINING_HEADER = "anthropic-ratelimit-requests-remaining"
RESET_HEADER = "anthropic-ratelimit-requests-reset"

# The live window is one minute; a reset further away than this is a clock
# skew or a malformed header, and must not stall the run for long.
MAX_RESET_WAIT = 120.0
MAX_WINDOW = MAX_RESET_WAIT
WINDOW_SAMPLES = 32
OTHERS_SAMPLES = 3
# Own starts older than (window + this) can no longer matter to any response.
KEEP_STARTS = 120.0


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


def _count(value: str | None, minimum: int) -> int | None:
    if value is None:
        return None
    try:
        n = int(value.strip())
    except ValueError:
        return None
    return n if n >= minimum else None


class ServerBudget:
    """Our starts, and what the server's headers say about everyone's (loop-clock times)."""

    def __init__(self) -> None:
        self.limit: int | None = None
        self._starts: deque[float] = deque()
        # start -> when the server lets it go (its reset), once its response said so
        self._leaves: dict[float, float] = {}
        self._window_samples: deque[float] = deque(maxlen=WINDOW_SAMPLES)
        self._others_samples: deque[int] = deque(maxlen=OTHERS_SAMPLES)
        self._others_until = 0.0
        self._newest_observed = -float("inf")
        self._late = 0.0  # the most any start was admitted after it began (transit)

    # -- what we did ------------------------------------------------------------------------

    def started(self, at: float) -> None:
        self._starts.append(at)
        horizon = at - (self.window or 0.0) - KEEP_STARTS
        while self._starts and self._starts[0] < horizon:
            self._leaves.pop(self._starts.popleft(), None)

    def forget(self, at: float) -> None:
        """A start the server did not count (it answered 429)."""
        with contextlib.suppress(ValueError):
            self._starts.remove(at)
        self._leaves.pop(at, None)

    def own_between(self, after: float, upto: float) -> int:
        """Our starts in the half-open interval (after, upto]."""
        return bisect.bisect_right(self._starts, upto) - bisect.bisect_right(self._starts, after)

    def _own_leaving(self, upto: float, after: float, window: float) -> list[float]:
        """When each of our starts up to ``upto`` that is still in the window at ``after``
        leaves it, soonest first.

        A start leaves at its response's ``reset`` (the server's admission + window,
        transit included) or, while that is unknown, at start + window.
        """
        first = bisect.bisect_left(self._starts, after - window - self._late)
        last = bisect.bisect_right(self._starts, upto)
        leaves = []
        for i in range(first, last):
            start = self._starts[i]
            leaves_at = max(self._leaves.get(start, 0.0), start + window)
            if leaves_at > after:
                leaves.append(leaves_at)
        leaves.sort()
        return leaves

    # -- what the server says ---------------------------------------------------------------

    @property
    def window(self) -> float | None:
        """The window's length in seconds, once a response has shown it."""
        return min(self._window_samples) if self._window_samples else None

    def others(self, now: float) -> int:
        """Requests someone else spent in the current window (0 when unknown or stale)."""
        if not self._others_samples or now >= self._others_until:
            return 0
        return int(statistics.median_low(self._others_samples))

    def observe(
        self,
        headers: Mapping[str, str],
        started: float,
        now: float,
        reset_in: float | None,
        *,
        counted: bool,
    ) -> bool:
        """Learn from one response's headers; True when the estimates changed.

        ``reset_in``: seconds from ``now`` to the response's ``reset``, None if unreadable.
        """
        if not counted:
            self.forget(started)
        changed = False
        admitted_at = started
        if counted and reset_in is not None:
            sample = reset_in + (now - started)
            if 0 < sample <= MAX_WINDOW:
                self._window_samples.append(sample)
                self._leaves[started] = now + reset_in
                admitted_at = now + reset_in - min(self._window_samples)
                self._late = min(MAX_WINDOW, max(self._late, admitted_at - started))
                changed = True
        limit = _count(headers.get(LIMIT_HEADER), 1)
        remaining = _count(headers.get(REMAINING_HEADER), 0)
        window = self.window
        if limit is None or remaining is None or window is None:
            return changed
        self.limit = limit
        # Responses overtake each other; an older request's view is older news.
        if started < self._newest_observed:
            return changed
        self._newest_observed = started
        own = len(self._own_leaving(started, admitted_at, window))
        self._others_samples.append(max(0, limit - remaining - own))
        valid = window if reset_in is None else min(max(reset_in, 0.0), 2 * window)
        self._others_until = now + min(valid, MAX_RESET_WAIT)
        return True

    # -- what follows -----------------------------------------------------------------------

    def left_rate(self, now: float) -> float | None:
        """Requests per second the others leave us, None while the budget is unknown."""
        window = self.window
        if self.limit is None or window is None:
            return None
        return max(0, self.limit - self.others(now)) / window

    def fits_at(self, now: float) -> float:
        """The loop time from which one more start fits the window (``<= now``: it fits now)."""
        window = self.window
        if self.limit is None or window is None:
            return now
        others = self.others(now)
        leaving = self._own_leaving(now, now, window)
        excess = len(leaving) + others - self.limit + 1
        if excess <= 0:
            return now
        if excess <= len(leaving):
            # Enough of our own starts will leave the window: the excess-th to go frees it.
            return min(leaving[excess - 1], self._others_until)
        # The others alone fill it: nothing is left until their view expires (reset).
        return self._others_until

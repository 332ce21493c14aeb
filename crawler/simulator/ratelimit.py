"""The strict server-side rate limit: at most ``limit`` admitted requests in any sliding window.

``rate`` counts requests per ``window`` seconds: ``rate=4, window=1`` is this
project's default budget, ``rate=600, window=60`` the live service (API.md,
"Rate limits"). Below one request per window, the window stretches instead:
one request per ``window / rate`` seconds.

Only admitted requests fill the window; a 429 does not, so a client that honours
``retry-after`` always gets through next time. Requests that fail
authentication never reach the limiter.

The headers follow the documented semantics:

- ``-limit``: the requests the window holds;
- ``-remaining``: what is left of it after this request;
- ``-reset``: "the timestamp when the window resets", the moment the **full**
  budget is back: for an admitted request, now + window; for a refused one,
  the newest admitted request + window. (Not the moment the next slot frees:
  that is what ``retry-after`` on a 429 says, in whole seconds, at least 1.)

A background consumer (``background_rps``) spends the same budget as another
key of the organisation would, for instance a SIEM connector: smoothly, one
request every ``1 / background_rps`` seconds, and after a refusal it waits the
``retry-after`` it would have been given. Its requests are never the
client's: they appear in no request counter, only in ``background_admitted``
and ``background_refused``. It is simulated lazily, in time order, whenever a
client request arrives (and when ``background_rps`` changes), so no task runs
and a test can drive it with a fake clock. When configured from the start it
is taken to have been running for a window already (a SIEM connector runs
all day); :meth:`RateLimiter.set_background` starts it from now.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

WINDOW = 1.0
# A request leaves the window when it is one window old. Times are floats read
# from a monotonic clock that may stand at 1e6 s or more (the machine's uptime),
# where one rounding step is about 1e-10 s; "exactly one window" between two
# requests of a consumer that fills the window can then come out a few steps
# short. A microsecond is far below what any server's timestamps resolve and far
# above that rounding (up to a clock of ~1e9 s), so rounding never holds a slot
# that is already free.
EDGE = 1e-6
LIMIT_HEADER = "anthropic-ratelimit-requests-limit"
REMAINING_HEADER = "anthropic-ratelimit-requests-remaining"
RESET_HEADER = "anthropic-ratelimit-requests-reset"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    headers: dict[str, str]


def _rfc3339(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond:06d}Z"


def _wall_now() -> datetime:
    return datetime.now(UTC)


class RateLimiter:
    def __init__(
        self,
        rate: float | None,
        window: float = WINDOW,
        background_rps: float = 0.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = _wall_now,
    ) -> None:
        if not window > 0 or not math.isfinite(window):
            raise ValueError(f"window must be a positive number of seconds, got {window!r}")
        if background_rps < 0 or not math.isfinite(background_rps):
            raise ValueError(f"background_rps must be >= 0, got {background_rps!r}")
        self.rate = rate
        self.window = window
        self._clock = clock
        self._wall = wall
        self._times: deque[float] = deque()
        self.background_rps = 0.0
        # Its schedule is origin + steps / rps, not a running sum: the rounding of a
        # sum grows with every step, a product's does not.
        self._background_origin = math.inf
        self._background_steps = 0
        self.background_admitted = 0
        self.background_refused = 0
        self.set_background(background_rps)
        if background_rps > 0 and self.enabled:
            # Configured from the start, it has been running for a window already
            # (a SIEM connector runs all day): its share is taken from the first request on.
            self._background_origin -= self.span

    @property
    def enabled(self) -> bool:
        return self.rate is not None and self.rate > 0

    @property
    def limit(self) -> int:
        """Admitted requests the window holds (1 when ``rate`` is below one per window)."""
        assert self.rate is not None
        return max(1, math.floor(self.rate))

    @property
    def span(self) -> float:
        """The sliding window's length in seconds (stretched when ``rate`` < 1)."""
        assert self.rate is not None
        return self.window if self.rate >= 1 else self.window / self.rate

    def set_background(self, rps: float) -> None:
        """Start, change or (0) stop the background consumer, from now on."""
        if rps < 0 or not math.isfinite(rps):
            raise ValueError(f"background_rps must be >= 0, got {rps!r}")
        now = self._clock()
        if self.enabled:
            self._run_background(now)
        self.background_rps = rps
        self._background_origin = now if rps > 0 else math.inf
        self._background_steps = 0

    def check(self) -> Decision:
        now = self._clock()
        wall = self._wall()
        if not self.enabled:
            # Disabled: still tell clients their budget, a generous one that never runs out.
            return Decision(
                True,
                {
                    LIMIT_HEADER: "1000000",
                    REMAINING_HEADER: "1000000",
                    RESET_HEADER: _rfc3339(wall),
                },
            )
        self._run_background(now)
        limit, span, times = self.limit, self.span, self._times
        self._expire(now)
        if len(times) >= limit:
            frees_in = times[0] + span - now
            full_in = times[-1] + span - now
            return Decision(
                False,
                {
                    "retry-after": str(max(1, math.ceil(frees_in))),
                    LIMIT_HEADER: str(limit),
                    REMAINING_HEADER: "0",
                    RESET_HEADER: _rfc3339(wall + timedelta(seconds=full_in)),
                },
            )
        times.append(now)
        return Decision(
            True,
            {
                LIMIT_HEADER: str(limit),
                REMAINING_HEADER: str(limit - len(times)),
                RESET_HEADER: _rfc3339(wall + timedelta(seconds=span)),
            },
        )

    def _expire(self, now: float) -> None:
        times, span = self._times, self.span
        while times and now - times[0] >= span - EDGE:
            times.popleft()

    def _run_background(self, now: float) -> None:
        """Play the background consumer's attempts due by ``now``, in time order."""
        if self.background_rps <= 0:
            return
        while (at := self._background_next) <= now:
            self._expire(at)
            if len(self._times) < self.limit:
                self._times.append(at)
                self.background_admitted += 1
                self._background_steps += 1
            else:
                # Refused: it honours the retry-after it would have got, and goes on from there.
                self.background_refused += 1
                frees_in = self._times[0] + self.span - at
                self._background_origin = at + max(1, math.ceil(frees_in))
                self._background_steps = 0

    @property
    def _background_next(self) -> float:
        return self._background_origin + self._background_steps / self.background_rps

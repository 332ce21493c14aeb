"""The strict server-side rate limit: at most R admitted requests in any sliding second.

Only admitted requests fill the window; a 429 does not, so a client that honours
``retry-after`` always gets through next time. Requests that fail
authentication never reach the limiter.
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

WINDOW = 1.0


@dataclass(frozen=True)
class Decision:
    allowed: bool
    headers: dict[str, str]


def _rfc3339(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond:06d}Z"


class RateLimiter:
    def __init__(self, rate: float | None) -> None:
        self.rate = rate
        self._times: deque[float] = deque()

    @property
    def enabled(self) -> bool:
        return bool(self.rate) and self.rate is not None and self.rate > 0

    def check(self) -> Decision:
        now = time.monotonic()
        wall = datetime.now(UTC)
        if not self.enabled:
            # Disabled: still tell clients their budget, a generous one that never runs out.
            return Decision(
                True,
                {
                    "anthropic-ratelimit-requests-limit": "1000000",
                    "anthropic-ratelimit-requests-remaining": "1000000",
                    "anthropic-ratelimit-requests-reset": _rfc3339(wall),
                },
            )
        assert self.rate is not None
        # Below one per second, the window stretches instead: one request per 1/R seconds.
        limit = max(1, math.floor(self.rate))
        window = WINDOW if self.rate >= 1 else 1.0 / self.rate
        times = self._times
        while times and now - times[0] >= window:
            times.popleft()
        if len(times) >= limit:
            frees_in = times[0] + window - now
            reset = wall + timedelta(seconds=frees_in)
            return Decision(
                False,
                {
                    "retry-after": str(max(1, math.ceil(frees_in))),
                    "anthropic-ratelimit-requests-limit": str(limit),
                    "anthropic-ratelimit-requests-remaining": "0",
                    "anthropic-ratelimit-requests-reset": _rfc3339(reset),
                },
            )
        times.append(now)
        reset = wall + timedelta(seconds=times[0] + window - now)
        return Decision(
            True,
            {
                "anthropic-ratelimit-requests-limit": str(limit),
                "anthropic-ratelimit-requests-remaining": str(limit - len(times)),
                "anthropic-ratelimit-requests-reset": _rfc3339(reset),
            },
        )

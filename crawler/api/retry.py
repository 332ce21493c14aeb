"""The retry policy: whether to send a failed request again, and after how long.

Pure: no clock, no I/O, no sleeping. The client asks it after every failed
attempt and does the waiting itself (through the shared limiter).

- Only a :class:`~crawler.errors.RetryableError` is retried (429, 5xx/529,
  transport failures, malformed bodies); everything else is final.
- At most ``max_attempts`` attempts in all (the first one included).
- Delay before attempt ``n + 1``: exponential backoff from ``base`` doubling up
  to ``cap``, stretched by a random factor in ``[1, 1 + jitter)`` so that
  workers that failed together do not retry together, and never above ``cap``.
  A server-sent ``retry-after`` is a floor: the delay is at least that, in full
  (it may already include the server's own safety margin).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from crawler.config import DEFAULT_BACKOFF_BASE, DEFAULT_BACKOFF_CAP, DEFAULT_MAX_ATTEMPTS
from crawler.errors import RateLimitedError, RetryableError


@dataclass
class RetryPolicy:
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    base: float = DEFAULT_BACKOFF_BASE
    cap: float = DEFAULT_BACKOFF_CAP
    jitter: float = 0.5
    # Injectable so tests can pin the jitter; the default is seeded from the OS.
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base < 0 or self.cap < 0 or self.jitter < 0:
            raise ValueError("backoff base, cap and jitter must not be negative")

    def should_retry(self, error: BaseException, attempt: int) -> bool:
        """True if ``error``, raised by attempt number ``attempt`` (1-based), earns another try."""
        return isinstance(error, RetryableError) and attempt < self.max_attempts

    def backoff(self, attempt: int) -> float:
        """Jittered exponential delay after failed attempt ``attempt`` (1-based), before floors."""
        # Clamp the exponent: 2 ** 1000 is fine as a float but pointless.
        raw = self.base * 2.0 ** min(max(attempt - 1, 0), 62)
        return min(self.cap, raw * (1.0 + self.jitter * self.rng.random()))

    def delay(self, error: RetryableError, attempt: int) -> float:
        """Seconds to wait before retrying after ``error`` from attempt ``attempt``."""
        floor = error.retry_after if error.retry_after is not None else 0.0
        return max(floor, self.backoff(attempt))


@dataclass
class DeletePolicy(RetryPolicy):
    """For a DELETE: resend only after a 429, which the server refused before acting.

    After a 5xx, a reset or a timeout the DELETE may have happened; sending it
    again would be a second DELETE. The caller settles it with a GET instead.
    """

    def should_retry(self, error: BaseException, attempt: int) -> bool:
        return isinstance(error, RateLimitedError) and super().should_retry(error, attempt)


def parse_retry_after(
    value: str | None, now: datetime | None = None, *, ms: str | None = None
) -> float | None:
    """Seconds to wait from a ``retry-after`` header: delta-seconds or an HTTP-date.

    ``ms`` is the non-standard ``retry-after-ms`` some Anthropic APIs send; it
    is used only when it asks for longer. Unreadable values give None (no floor).
    """
    seconds: float | None = None
    if value is not None and (text := value.strip()):
        try:
            seconds = float(text)
        except ValueError:
            try:
                when = parsedate_to_datetime(text)
            except (TypeError, ValueError, IndexError):
                when = None
            if when is not None:
                if when.tzinfo is None:
                    when = when.replace(tzinfo=UTC)
                seconds = (when - (now or datetime.now(UTC))).total_seconds()
        if seconds is not None and seconds != seconds:  # NaN
            seconds = None
    if ms is not None:
        try:
            from_ms = float(ms.strip()) / 1000.0
        except ValueError:
            from_ms = None
        if from_ms is not None and from_ms == from_ms and (seconds is None or from_ms > seconds):
            seconds = from_ms
    if seconds is None:
        return None
    # A date in the past means "now"; an absurd value must not stall a run for days.
    return min(max(seconds, 0.0), 3600.0)

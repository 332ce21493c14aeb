"""RetryPolicy (pure) and retry-after parsing."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from crawler.api.retry import RetryPolicy, parse_retry_after
from crawler.errors import (
    AuthError,
    BadResponseError,
    GoneError,
    RateLimitedError,
    RejectedError,
    RetriesExhaustedError,
    ServerError,
    TransportError,
)

NOW = datetime(2026, 11, 23, 10, 15, 0, tzinfo=UTC)


class FixedRandom(random.Random):
    def __init__(self, value: float) -> None:
        super().__init__(0)
        self.value = value

    def random(self) -> float:
        return self.value


@pytest.mark.parametrize(
    "error",
    [RateLimitedError("x"), ServerError("x"), TransportError("x"), BadResponseError("x")],
)
def test_retryable_errors_retried_up_to_the_bound(error: Exception) -> None:
    policy = RetryPolicy(max_attempts=3)
    assert policy.should_retry(error, 1)
    assert policy.should_retry(error, 2)
    assert not policy.should_retry(error, 3)


@pytest.mark.parametrize(
    "error",
    [
        GoneError("x"),
        RejectedError("x"),
        AuthError("x"),
        RetriesExhaustedError(ServerError("x"), 8),
        ValueError("x"),
    ],
)
def test_final_errors_not_retried(error: Exception) -> None:
    assert not RetryPolicy().should_retry(error, 1)


def test_backoff_doubles_from_base_up_to_cap() -> None:
    policy = RetryPolicy(rng=FixedRandom(0.0))
    assert [policy.backoff(n) for n in range(1, 10)] == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    assert policy.backoff(10_000) == 60


def test_jitter_stretches_within_bounds_and_is_seeded() -> None:
    a = RetryPolicy(rng=random.Random(42))
    b = RetryPolicy(rng=random.Random(42))
    seq_a = [a.backoff(n) for n in range(1, 8)]
    assert seq_a == [b.backoff(n) for n in range(1, 8)]
    for n, d in enumerate(seq_a, start=1):
        raw = 2 ** (n - 1)
        assert min(60, raw) <= d <= min(60, raw * 1.5)
    # Jitter actually varies the delay.
    c = RetryPolicy(rng=random.Random(1))
    assert len({round(c.backoff(1), 9) for _ in range(20)}) > 1


def test_retry_after_is_a_floor() -> None:
    policy = RetryPolicy(rng=FixedRandom(0.0))
    assert policy.delay(RateLimitedError("x", retry_after=10.0), 1) == 10.0
    # Backoff larger than the server's figure wins.
    assert policy.delay(RateLimitedError("x", retry_after=0.5), 3) == 4.0
    assert policy.delay(RateLimitedError("x"), 1) == 1.0
    # A retry-after beyond the cap is still honoured in full.
    assert policy.delay(RateLimitedError("x", retry_after=90.0), 1) == 90.0


def test_policy_validates() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError):
        RetryPolicy(base=-1)


def test_parse_retry_after_seconds_and_dates() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after(format_datetime(NOW + timedelta(seconds=7), usegmt=True), NOW) == 7.0
    assert parse_retry_after("Mon, 23 Nov 2026 10:15:09 GMT", NOW) == 9.0
    assert parse_retry_after(format_datetime(NOW - timedelta(seconds=7), usegmt=True), NOW) == 0.0
    assert parse_retry_after("-4") == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("") is None
    assert parse_retry_after("later") is None
    assert parse_retry_after("nan") is None
    assert parse_retry_after("99999999") == 3600.0


def test_parse_retry_after_ms() -> None:
    assert parse_retry_after("1", ms="2500") == 2.5
    assert parse_retry_after("3", ms="2500") == 3.0
    assert parse_retry_after(None, ms="250") == 0.25
    assert parse_retry_after("2", ms="bogus") == 2.0

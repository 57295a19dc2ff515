"""Backoff, Retry-After and the circuit breaker, with injected time and randomness."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from resilience.retry import Backoff, CircuitBreaker, CircuitOpen, retry_after_seconds


def test_backoff_doubles_is_capped_and_jittered_within_half_to_full():
    b = Backoff(base=0.5, cap=4.0)
    rng = random.Random(0)
    for attempt, ceiling in enumerate([0.5, 1.0, 2.0, 4.0, 4.0, 4.0]):
        for _ in range(50):
            d = b.delay(attempt, rng)
            assert ceiling / 2 <= d <= ceiling
    assert Backoff(base=1.0, cap=10.0).delay(2, random.Random(1)) == pytest.approx(
        4.0 * (0.5 + 0.5 * random.Random(1).random()))
    with pytest.raises(ValueError):
        b.delay(-1)


def test_retry_after_reads_seconds_and_http_dates():
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds(None) is None and retry_after_seconds("soon") is None
    now = datetime(2026, 11, 27, 10, 0, 0, tzinfo=UTC)
    assert retry_after_seconds("Fri, 27 Nov 2026 10:00:30 GMT", now=now) == 30.0
    assert retry_after_seconds("Fri, 27 Nov 2026 09:00:00 GMT", now=now) == 0.0


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_breaker_opens_after_threshold_then_half_opens_for_one_trial():
    clock = Clock()
    cb = CircuitBreaker("svc", failure_threshold=3, reset_timeout=10, clock=clock)
    for _ in range(2):
        cb.before_call()
        cb.record_failure()
    assert cb.state == "closed"
    cb.before_call()
    cb.record_failure()
    assert cb.state == "open"
    with pytest.raises(CircuitOpen) as info:
        cb.before_call()
    assert info.value.retry_in == pytest.approx(10)
    clock.t = 10.0
    assert cb.state == "half_open"
    cb.before_call()  # the one trial
    with pytest.raises(CircuitOpen):
        cb.before_call()  # no second call while the trial runs
    cb.record_failure()  # trial failed: open again for a full period
    assert cb.state == "open"
    clock.t = 20.0
    cb.before_call()
    cb.record_success()
    assert cb.state == "closed"
    cb.before_call()

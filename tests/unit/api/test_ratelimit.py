from __future__ import annotations

import pytest

from api.ratelimit import TokenBuckets


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_burst_then_refill_at_the_configured_rate():
    clock = Clock()
    buckets = TokenBuckets(per_minute=60, burst=3, clock=clock)
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a") == pytest.approx(1.0)  # one token a second
    clock.now += 0.5
    assert buckets.take("a") == pytest.approx(0.5)
    clock.now += 0.5
    assert buckets.take("a") == 0.0
    assert buckets.take("b") == 0.0  # buckets are per key


def test_refill_never_exceeds_the_burst():
    clock = Clock()
    buckets = TokenBuckets(per_minute=600, burst=2, clock=clock)
    clock.now += 3600
    assert [buckets.take("a") == 0.0 for _ in range(3)] == [True, True, False]


@pytest.mark.parametrize("per_minute,burst", [(0, 1), (10, 0)])
def test_bad_limits_are_refused(per_minute, burst):
    with pytest.raises(ValueError):
        TokenBuckets(per_minute=per_minute, burst=burst)

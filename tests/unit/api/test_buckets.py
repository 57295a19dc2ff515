"""Rate-limit buckets: bounded in number, and refusals reported once per interval."""

from __future__ import annotations

from api.ratelimit import TokenBuckets, client_key


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_refusals_are_reported_once_per_interval_with_their_count():
    clock = Clock()
    buckets = TokenBuckets(60, 1, report_every=60, clock=clock)
    assert buckets.take("a") == 0
    assert buckets.take("a") > 0
    assert buckets.refused("a") == 1  # the first refusal is reported at once
    assert [buckets.refused("a") for _ in range(5)] == [0] * 5
    clock.now += 61
    assert buckets.refused("a") == 6  # the five held back, and this one


def test_wait_spends_nothing_and_the_lru_stays_bounded():
    buckets = TokenBuckets(60, 2, max_keys=3, clock=Clock())
    assert buckets.wait("a") == 0 and buckets.wait("a") == 0 and buckets.take("a") == 0
    for name in "bcdef":
        buckets.take(name)
    assert len(buckets) == 3


def test_client_keys_group_ipv6_by_64_and_unwrap_mapped_ipv4():
    assert client_key("2001:db8:1:2::5") == "2001:db8:1:2::/64"
    assert client_key("::ffff:192.0.2.7") == "192.0.2.7"
    assert client_key(None) == "unknown" and client_key("testclient") == "testclient"
    # what a real server sees (TestClient's "testclient" is no address at all)
    assert client_key("127.0.0.1") == "127.0.0.1" and client_key("192.0.2.7") == "192.0.2.7"

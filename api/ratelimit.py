"""Token buckets in process: per client address before authentication, per API key after.

Each bucket may burst ``burst`` requests and then ``rate`` per second. Buckets live in an
LRU of at most ``max_keys`` entries, so a flood of distinct addresses costs bounded memory
(the least recently seen bucket is forgotten first). One process keeps its own buckets:
behind several API replicas the effective limit is per replica.
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    last: float
    #: refusals not yet reported in an audit row, and when the last report was due
    unreported: int = 0
    reported_at: float = -math.inf


class TokenBuckets:
    def __init__(self, per_minute: float, burst: int, *, max_keys: int = 10_000,
                 report_every: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        if per_minute <= 0 or burst < 1 or max_keys < 1:
            raise ValueError("per_minute must be > 0, burst >= 1 and max_keys >= 1")
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.max_keys = max_keys
        self.report_every = report_every
        self._clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._buckets)

    def _refilled(self, key: str) -> _Bucket:
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = _Bucket(self.burst, now)
            self._buckets[key] = bucket
            if len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.last) * self.rate)
            bucket.last = now
        return bucket

    def take(self, key: str) -> float:
        """Spend one token; returns 0 when allowed, else the seconds until one is free."""
        with self._lock:
            bucket = self._refilled(key)
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / self.rate

    def wait(self, key: str) -> float:
        """Seconds until ``key`` has a token (0: it has one now); spends nothing."""
        with self._lock:
            bucket = self._refilled(key)
            return 0.0 if bucket.tokens >= 1.0 else (1.0 - bucket.tokens) / self.rate

    def refused(self, key: str) -> int:
        """Count a refusal of ``key``; returns how many refusals to report now (this one
        included), or 0 while the last report is younger than ``report_every`` — so a flood
        writes one audit row per key per interval, not one per request."""
        with self._lock:
            bucket = self._refilled(key)
            bucket.unreported += 1
            now = self._clock()
            if now - bucket.reported_at < self.report_every:
                return 0
            count, bucket.unreported, bucket.reported_at = bucket.unreported, 0, now
            return count


def client_key(host: str | None) -> str:
    """The bucket of a client address: the address itself, or its /64 for IPv6 (one host
    usually holds a whole /64, and would otherwise get 2^64 buckets)."""
    if not host:
        return "unknown"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host[:64]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)

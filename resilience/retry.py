"""Retries with exponential backoff and jitter, ``Retry-After``, and a circuit breaker.

:class:`Retry` is the one retry loop of the code base (database, SMTP, training service,
MLflow, and the agents' backpressure in :mod:`resilience.backpressure`): bounded by
attempts and/or time for a call that should give up, unbounded for a dependency an agent
must wait for. Written here rather than taken from tenacity or stamina because the policy
is twenty lines, the sleeps and clock must be injectable (the tests never wait), and an async
and a sync caller share it without a dependency of its own.

Pure bookkeeping: the clock, the sleep and the random source are injected, so the policy is
tested without waiting.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Backoff:
    """Delay before retry ``attempt`` (0-based): ``min(cap, base * 2**attempt)`` scaled by a
    random factor in [0.5, 1] ("equal jitter": never zero, never above the cap)."""

    base: float = 0.5
    cap: float = 10.0

    def __post_init__(self) -> None:
        if self.base < 0 or self.cap < 0:
            raise ValueError("base and cap must be >= 0")

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        if attempt < 0:
            raise ValueError("attempt must be >= 0")
        ceiling = min(self.cap, self.base * 2.0**attempt)
        factor = 0.5 + 0.5 * (rng or _RNG).random()
        return ceiling * factor


_RNG = random.Random()  # noqa: S311 - jitter, not cryptography

#: ``on_retry(attempt, exc, delay)`` before each wait (attempt is 1 for the first retry)
OnRetry = Callable[[int, BaseException, float], None]


@dataclass(frozen=True)
class Retry:
    """Call until it succeeds, a failure is not ``transient``, or the budget is spent.

    ``attempts`` bounds the calls (None: unbounded), ``max_seconds`` the time (a wait that
    would end past it is not started). ``wait_hint(exc)`` may ask for a longer wait (a
    ``Retry-After``, an open circuit), never beyond ``backoff.cap``. The last failure is
    re-raised.
    """

    backoff: Backoff = Backoff()
    attempts: int | None = None
    max_seconds: float | None = None

    def __post_init__(self) -> None:
        if self.attempts is not None and self.attempts < 1:
            raise ValueError("attempts must be >= 1 (or None for unbounded)")

    def _next_delay(self, attempt: int, exc: BaseException, started: float, now: float,
                    transient: Callable[[BaseException], bool],
                    wait_hint: Callable[[BaseException], float | None] | None,
                    rng: random.Random | None) -> float | None:
        """The wait before the next call, or None to give up (``attempt`` calls made)."""
        if not transient(exc) or (self.attempts is not None and attempt >= self.attempts):
            return None
        delay = self.backoff.delay(attempt - 1, rng)
        hint = wait_hint(exc) if wait_hint is not None else None
        if hint is not None:
            delay = min(max(delay, hint), max(self.backoff.cap, 0.0))
        if self.max_seconds is not None and now + delay - started >= self.max_seconds:
            return None
        return delay

    def call(self, fn: Callable[[], T], *, transient: Callable[[BaseException], bool],
             sleep: Callable[[float], None] = time.sleep,
             clock: Callable[[], float] = time.monotonic, rng: random.Random | None = None,
             wait_hint: Callable[[BaseException], float | None] | None = None,
             on_retry: OnRetry | None = None) -> T:
        started, attempt = clock(), 0
        while True:
            attempt += 1
            try:
                return fn()
            except Exception as exc:
                delay = self._next_delay(attempt, exc, started, clock(), transient, wait_hint, rng)
                if delay is None:
                    raise
                if on_retry is not None:
                    on_retry(attempt, exc, delay)
            sleep(delay)

    async def call_async(self, fn: Callable[[], Awaitable[T]], *,
                         transient: Callable[[BaseException], bool],
                         sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                         clock: Callable[[], float] = time.monotonic,
                         rng: random.Random | None = None,
                         wait_hint: Callable[[BaseException], float | None] | None = None,
                         on_retry: OnRetry | None = None) -> T:
        started, attempt = clock(), 0
        while True:
            attempt += 1
            try:
                return await fn()
            except Exception as exc:
                delay = self._next_delay(attempt, exc, started, clock(), transient, wait_hint, rng)
                if delay is None:
                    raise
                if on_retry is not None:
                    on_retry(attempt, exc, delay)
            await sleep(delay)


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks for (delta-seconds or an HTTP date), or None."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class CircuitOpen(RuntimeError):
    """The circuit is open: calls fail fast until ``retry_at`` (monotonic seconds)."""

    def __init__(self, name: str, retry_in: float) -> None:
        super().__init__(f"{name}: circuit open after repeated failures; next try in {retry_in:.1f}s")
        self.retry_in = retry_in


class CircuitBreaker:
    """closed → (``failure_threshold`` consecutive failures) → open → (``reset_timeout``) →
    half-open: one trial call; its success closes the circuit, its failure opens it again."""

    def __init__(self, name: str, failure_threshold: int = 5, reset_timeout: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if failure_threshold < 1 or reset_timeout <= 0:
            raise ValueError("failure_threshold must be >= 1 and reset_timeout > 0")
        self.name = name
        self.failure_threshold = failure_threshold
        self.reset_timeout = reset_timeout
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_running = False

    @property
    def state(self) -> str:
        if self._opened_at is None:
            return "closed"
        if self._clock() - self._opened_at >= self.reset_timeout:
            return "half_open"
        return "open"

    def before_call(self) -> None:
        """Raise :class:`CircuitOpen` unless a call may go ahead now."""
        state = self.state
        if state == "closed":
            return
        if state == "half_open" and not self._trial_running:
            self._trial_running = True
            return
        assert self._opened_at is not None
        raise CircuitOpen(self.name, max(0.0, self._opened_at + self.reset_timeout - self._clock()))

    def record_success(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._trial_running = False

    def record_failure(self) -> None:
        self._failures += 1
        if self._trial_running or self._failures >= self.failure_threshold:
            self._opened_at = self._clock()
        self._trial_running = False

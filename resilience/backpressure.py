"""Dependency outages as backpressure: hold the work, retry, resume where it stopped.

An agent that needs PostgreSQL, MLflow, the training service, SMTP or the broker for the
batch in hand calls :func:`hold`. While the dependency fails with a transient error the call
is retried with capped, jittered exponential backoff — for as long as it takes: the agent
does not ask faust for its next batch, so nothing past the held batch is acknowledged or
committed, its partitions' buffers fill and faust pauses them, and the agents on other topics
keep flowing. ``driftline_dependency_up{dependency}`` is 0 while any agent waits for that
dependency, and the worker's ``/health/ready`` names it. A failure that is not transient
(the database refuses a row, the server refuses a mail) is re-raised for the caller to
decide on — those, and only those, may become dead letters.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from observability.metrics import BACKPRESSURE_WAITS, DEPENDENCIES, DEPENDENCY_UP
from resilience.retry import Backoff, CircuitOpen, Retry

log = logging.getLogger(__name__)
T = TypeVar("T")

#: a first retry after ~0.5 s, then doubling to at most 15 s between tries
HOLD_BACKOFF = Backoff(base=0.5, cap=15.0)

_waiting: dict[str, set[int | str]] = {name: set() for name in DEPENDENCIES}
_next_token = 0


class Interrupted(BaseException):
    """The worker's partitions are being reassigned: held work is given up *unacknowledged*
    (a rebalance waits for every agent to finish what it holds; the new owner reads it again
    from the committed offset).

    A BaseException, like ``asyncio.CancelledError``: the ``except Exception`` an agent keeps
    for failures that are not outages (a row the database refuses, an evaluation that
    crashes) must not catch it — that would dead-letter valid rows or publish a "failed"
    promotion for an outage that merely met a rebalance. :func:`streams.gaps.process_batches`
    catches it; a timer that holds catches it itself."""


#: bumped when a rebalance starts: every hold started before gives up
_generation = 0
#: while a rebalance runs, a hold gives up at its first failure instead of waiting
_rebalancing = False
#: set when the current generation is interrupted (one per generation and event loop, made
#: on first use: an asyncio.Event belongs to the loop that first waits on it)
_interrupted: tuple[asyncio.AbstractEventLoop, asyncio.Event] | None = None


def interrupt() -> None:
    """A rebalance (or shutdown) starts: every current :func:`hold` raises
    :class:`Interrupted` at once — a call in flight is abandoned, not awaited — and so does
    one that fails before :func:`rebalanced`."""
    global _generation, _rebalancing, _interrupted
    _generation += 1
    _rebalancing = True
    if _interrupted is not None:
        _interrupted[1].set()
    _interrupted = None


def _interruption() -> asyncio.Event:
    global _interrupted
    loop = asyncio.get_running_loop()
    if _interrupted is None or _interrupted[0] is not loop:
        _interrupted = (loop, asyncio.Event())
    return _interrupted[1]


def rebalanced() -> None:
    global _rebalancing
    _rebalancing = False


class Unavailable(RuntimeError):
    """A dependency answered nothing useful (raised by callers that get a result, not an
    exception, for an outage — the mailer's :class:`SendResult`)."""


def down() -> list[str]:
    """The dependencies some agent is waiting for now."""
    return sorted(name for name, holders in _waiting.items() if holders)


def _set(dependency: str) -> None:
    DEPENDENCY_UP.labels(dependency).set(0 if _waiting[dependency] else 1)


def mark_down(dependency: str, holder: str) -> None:
    """For work that waits without :func:`hold` (a poll that simply tries again later)."""
    _waiting[dependency].add(holder)
    _set(dependency)


def mark_up(dependency: str, holder: str) -> None:
    if holder in _waiting[dependency]:
        _waiting[dependency].discard(holder)
        _set(dependency)


def circuit_wait(exc: BaseException) -> float | None:
    """An open circuit says when it lets the next call through."""
    return exc.retry_in if isinstance(exc, CircuitOpen) else None


async def hold(dependency: str, call: Callable[[], Awaitable[T]], *,
               transient: Callable[[BaseException], bool], agent: str = "",
               backoff: Backoff = HOLD_BACKOFF,
               wait_hint: Callable[[BaseException], float | None] | None = None,
               sleep: Callable[[float], Awaitable[None]] | None = None) -> T:
    """``await call()`` until it succeeds; transient failures are waited out (never given
    up), others re-raised."""
    if dependency not in _waiting:
        raise ValueError(f"unknown dependency {dependency!r}; one of {DEPENDENCIES}")
    global _next_token
    _next_token += 1
    token = _next_token

    def report(attempt: int, exc: BaseException, delay: float) -> None:
        if attempt == 1:
            log.warning("%s unavailable (%s: %s); %s holds its work and retries",
                        dependency, exc.__class__.__name__, str(exc)[:300], agent or "the agent")
        elif attempt % 10 == 0:
            log.warning("%s still unavailable after %d tries (%s); still holding",
                        dependency, attempt, str(exc)[:200])
        _waiting[dependency].add(token)
        _set(dependency)
        BACKPRESSURE_WAITS.labels(dependency, agent or "unknown").inc()

    generation = _generation
    interrupted = _interruption()

    async def attempt() -> T:
        """One call, abandoned when a rebalance starts (a to-thread call finishes in its
        thread; what it wrote is idempotent, and the batch comes again unacknowledged)."""
        work = asyncio.ensure_future(call())
        stop = asyncio.ensure_future(interrupted.wait())
        try:
            done, _ = await asyncio.wait({work, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
        if work in done:
            return work.result()
        work.cancel()
        raise Interrupted(f"held work for {dependency} given up: partitions revoked")

    async def pause(seconds: float) -> None:
        """Sleep, but give up as soon as a rebalance starts (or while one runs)."""
        if _rebalancing:
            raise Interrupted(f"held work for {dependency} given up: a rebalance is running")
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            if _generation != generation:
                raise Interrupted(f"held work for {dependency} given up: partitions revoked")
            await (sleep or asyncio.sleep)(min(0.5, left))
        if _generation != generation:
            raise Interrupted(f"held work for {dependency} given up: partitions revoked")

    back = False
    try:
        result = await Retry(backoff).call_async(attempt, transient=transient,
                                                 on_retry=report, wait_hint=wait_hint,
                                                 sleep=pause)
        back = True
    finally:
        if token in _waiting[dependency]:
            _waiting[dependency].discard(token)
            _set(dependency)
            if back:
                log.info("%s is back; %s resumes", dependency, agent or "the agent")
            else:  # interrupted (a rebalance) or refused: not a sign the dependency is back
                log.info("%s: %s stops holding its work for it", dependency,
                         agent or "the agent")
    return result

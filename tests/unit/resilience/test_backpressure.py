"""Holding work for a dependency: retried until it answers, visible while it waits, given
up (unacknowledged) when a rebalance starts, and never for a failure that is not an outage."""

from __future__ import annotations

import asyncio

import pytest

from observability.metrics import REGISTRY
from resilience import backpressure
from resilience.retry import Backoff

FAST = Backoff(base=0.001, cap=0.01)


def up(dependency: str) -> float | None:
    return REGISTRY.get_sample_value("driftline_dependency_up", {"dependency": dependency})


class Flaky:
    def __init__(self, failures: int, error: Exception) -> None:
        self.failures, self.error, self.calls = failures, error, 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return "ok"


async def test_an_outage_is_waited_out_and_shows_while_it_lasts():
    seen: list[tuple[list[str], float | None]] = []
    call = Flaky(5, ConnectionError("refused"))

    async def watched() -> str:
        seen.append((backpressure.down(), up("postgres")))
        return await call()

    result = await backpressure.hold("postgres", watched, transient=lambda e: True, backoff=FAST)
    assert result == "ok" and call.calls == 6
    assert seen[0] == ([], 1.0) and seen[-1] == (["postgres"], 0.0)
    assert backpressure.down() == [] and up("postgres") == 1.0


async def test_a_failure_that_is_not_an_outage_is_raised_at_once():
    call = Flaky(1, ValueError("refused row"))
    with pytest.raises(ValueError):
        await backpressure.hold("postgres", call, transient=lambda e: False, backoff=FAST)
    assert call.calls == 1 and up("postgres") == 1.0


async def test_a_rebalance_interrupts_held_work():
    call = Flaky(10**6, ConnectionError("refused"))
    held = asyncio.ensure_future(backpressure.hold(
        "smtp", call, transient=lambda e: True, backoff=Backoff(base=0.2, cap=0.2)))
    while not backpressure.down():
        await asyncio.sleep(0.01)
    backpressure.interrupt()
    try:
        with pytest.raises(backpressure.Interrupted):
            await asyncio.wait_for(held, 2)
        assert backpressure.down() == [] and up("smtp") == 1.0
        # while the rebalance runs, new held work gives up at its first failure ...
        late = Flaky(1, ConnectionError("refused"))
        with pytest.raises(backpressure.Interrupted):
            await backpressure.hold("smtp", late, transient=lambda e: True, backoff=FAST)
        assert late.calls == 1
    finally:
        backpressure.rebalanced()
    # ... and once it is over, waits again
    assert await backpressure.hold("smtp", Flaky(2, ConnectionError("refused")),
                                   transient=lambda e: True, backoff=FAST) == "ok"


def test_unknown_dependencies_are_refused():
    with pytest.raises(ValueError, match="unknown dependency"):
        asyncio.run(backpressure.hold("redis", Flaky(0, RuntimeError()), transient=bool))


async def test_a_call_in_flight_is_abandoned_when_a_rebalance_starts():
    started = asyncio.Event()

    async def slow() -> str:  # e.g. a client still inside its own retries
        started.set()
        await asyncio.sleep(3600)
        return "never"

    held = asyncio.ensure_future(backpressure.hold("trainer", slow, transient=lambda e: True,
                                                   backoff=FAST))
    await started.wait()
    backpressure.interrupt()
    try:
        with pytest.raises(backpressure.Interrupted):
            await asyncio.wait_for(held, 2)
    finally:
        backpressure.rebalanced()

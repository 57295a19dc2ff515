"""The worker's faust app gives up held work when a rebalance starts and lets it wait again
once the rebalance is over (streams/dropped.py: App.on_rebalance_start / on_rebalance_end)."""

from __future__ import annotations

import asyncio

import pytest

from resilience import backpressure
from resilience.retry import Backoff
from streams.dropped import App

FAST = Backoff(base=0.01, cap=0.01)


def refused() -> object:
    async def call() -> str:
        raise ConnectionError("refused")

    return call


async def test_a_rebalance_start_gives_up_held_work_and_its_end_lets_work_wait_again():
    app = App("rebalance-hooks-test", broker="kafka://127.0.0.1:1", store="memory://",
              web_enabled=False, autodiscover=False)
    held = asyncio.ensure_future(backpressure.hold(
        "smtp", refused(), transient=lambda e: True, backoff=Backoff(base=0.2, cap=0.2)))
    while not backpressure.down():
        await asyncio.sleep(0.01)
    app.on_rebalance_start()
    try:
        assert app.rebalancing  # faust's own bookkeeping still runs
        with pytest.raises(backpressure.Interrupted):
            await asyncio.wait_for(held, 2)
        # while the rebalance runs, new held work gives up at its first failure
        with pytest.raises(backpressure.Interrupted):
            await backpressure.hold("smtp", refused(), transient=lambda e: True, backoff=FAST)
    finally:
        app.on_rebalance_end()
    assert not app.rebalancing
    # after it, a failure is waited out again (here: until the test stops it)
    later = asyncio.ensure_future(backpressure.hold(
        "smtp", refused(), transient=lambda e: True, backoff=FAST))
    await asyncio.sleep(0.1)
    assert not later.done() and backpressure.down() == ["smtp"]
    later.cancel()
    with pytest.raises(asyncio.CancelledError):
        await later

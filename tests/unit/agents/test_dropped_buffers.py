"""A rebalance does not wait for events faust cleared from an agent's buffer (streams.dropped)."""

from __future__ import annotations

import asyncio
from weakref import WeakSet

from faust.types import TP
from faust.types.tuples import Message
from mode.utils.queues import FlowControlEvent

from streams.dropped import DroppingQueue, release


class _Event:
    def __init__(self, message: Message) -> None:
        self.message = message


def _message(offset: int, refs: int) -> Message:
    m = Message("training-jobs", 0, offset, 0.0, 0, [], b"k", b"v", None, tp=TP("training-jobs", 0))
    m.refcount = refs
    return m


def test_a_message_only_a_cleared_buffer_still_holds_is_not_waited_for() -> None:
    async def run() -> None:
        flow = FlowControlEvent()
        queue = DroppingQueue(flow_control=flow, clear_on_resume=True)
        taken_elsewhere = _message(1, refs=1)   # the sink acked it; only this buffer holds it
        in_flight = _message(2, refs=2)         # another agent still works on it
        never_dropped = _message(3, refs=1)     # held by an agent's batch, not by a buffer
        unacked = WeakSet([taken_elsewhere, in_flight, never_dropped])
        queue.put_nowait(_Event(taken_elsewhere))
        queue.put_nowait(_Event(in_flight))
        flow.clear()  # what faust does at the start of a rebalance
        assert queue.empty()
        assert release(unacked) == 1
        assert set(unacked) == {in_flight, never_dropped}
        # released, never acknowledged: the commit cannot pass it
        assert not taken_elsewhere.acked and taken_elsewhere.refcount == 1
        in_flight.refcount -= 1  # the other agent acks it: now only the buffer held it
        assert release(unacked) == 1
        assert set(unacked) == {never_dropped}

    asyncio.run(run())


def test_clearing_an_empty_or_valueless_buffer_releases_nothing() -> None:
    async def run() -> None:
        flow = FlowControlEvent()
        queue = DroppingQueue(flow_control=flow, clear_on_resume=True)
        unacked_message = _message(4, refs=1)
        unacked = WeakSet([unacked_message])
        queue.put_nowait("not an event")
        flow.clear()
        assert release(unacked) == 0 and set(unacked) == {unacked_message}

    asyncio.run(run())


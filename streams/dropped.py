"""Messages faust drops from an agent's buffer at a rebalance: given up, not waited for.

At a rebalance faust clears every agent's incoming buffer (``flow_control.clear()``) and then
waits (``Consumer.wait_empty``) until every message it handed out is acknowledged — or garbage.
A message goes to every agent of its topic; a buffered one that is cleared is never
acknowledged by the agent it was buffered for, so if another agent already took it, it stays
"unacknowledged" until it is garbage-collected. faust's fetcher keeps the batch it is
delivering alive while the flow is stopped, so that never happens: the rebalance waits for
messages no agent works on, until the broker expels the worker from the group (minutes).

It happens whenever an agent is behind another on the same topic when a rebalance starts:
reliably when the agent holds a batch for a dependency that is down — ``schedule_training``
holding for the training service while the job states it just published to
``training-jobs`` were taken by the job sink and ``promote_candidates`` and wait in its own
buffer.

Here a cleared buffer records what it dropped, and the rebalance stops waiting for a message
once only dropped references keep it unacknowledged (another agent still working on it is
still waited for). It is never acknowledged either, so the commit cannot pass it: the
partition's next owner (maybe this worker) reads it again.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any
from weakref import WeakKeyDictionary

import faust
from mode.utils.queues import ThrowableQueue

from resilience import backpressure
from streams.delivery import direct_delivery

log = logging.getLogger(__name__)

#: per message, how many of its references were dropped with a cleared buffer
_dropped: WeakKeyDictionary[Any, int] = WeakKeyDictionary()


def dropped(items: list[Any]) -> int:
    """Record the messages of events cleared from a buffer; returns how many there were."""
    counts: Counter[Any] = Counter()
    for item in items:
        message = getattr(item, "message", None)
        if message is not None and hasattr(message, "refcount"):
            counts[message] += 1
    for message, n in counts.items():
        _dropped[message] = _dropped.get(message, 0) + n
    return sum(counts.values())


def release(unacked: Any) -> int:
    """Stop waiting for messages whose every remaining reference was dropped; returns how
    many."""
    released = [m for m in list(unacked) if m in _dropped and not m.acked
                and m.refcount <= _dropped[m]]
    for message in released:
        unacked.discard(message)
    return len(released)


class DroppingQueue(ThrowableQueue):  # type: ignore[type-arg]
    """An agent's buffer that records what a rebalance clears from it."""

    def clear(self) -> None:
        items = list(self._queue)  # type: ignore[attr-defined]
        super().clear()
        if items and (n := dropped(items)):
            log.info("rebalance: %d buffered event(s) dropped, left unacknowledged for the "
                     "partitions' next owner", n)


class App(faust.App):  # type: ignore[misc]
    """faust's application with buffers whose cleared events the rebalance does not wait for,
    whose held work yields to a rebalance, and whose consumer hands a message that cannot
    block straight to its streams (:mod:`streams.delivery`)."""

    def _new_consumer(self) -> Any:
        # faust's own (Transport.create_consumer), with the consumer class's delivery
        transport = self.transport
        return direct_delivery(transport.Consumer)(
            transport, callback=self.topics.on_message, loop=transport.loop,
            on_partitions_revoked=self._on_partitions_revoked,
            on_partitions_assigned=self._on_partitions_assigned, beacon=self.beacon)

    def on_rebalance_start(self) -> None:
        # faust's rebalance waits until every agent has finished the events it holds (before
        # it even signals ``on_partitions_revoked``); an agent holding a batch for a
        # dependency that is down would stall the rebalance, and the whole group with it. At
        # the rebalance's start held work is given up unacknowledged, so the partitions' next
        # owner reads it again. (Here rather than in a sensor: faust calls every sensor five
        # times per message.)
        backpressure.interrupt()
        super().on_rebalance_start()

    def on_rebalance_end(self) -> None:
        try:
            super().on_rebalance_end()
        finally:
            backpressure.rebalanced()

    def FlowControlQueue(self, maxsize: int | None = None, *,  # noqa: N802 - faust's name
                         clear_on_resume: bool = False) -> ThrowableQueue:  # type: ignore[type-arg]
        return DroppingQueue(maxsize=maxsize, flow_control=self.flow_control,
                             clear_on_resume=clear_on_resume)

    async def _consumer_wait_empty(self, consumer: Any, logger: Any) -> None:
        # wait_empty cleans its set of unacknowledged messages once a second: released ones
        # go with the acknowledged ones
        if not getattr(consumer, "_driftline_releases_dropped", False):
            clean = consumer._clean_unacked_messages

            def clean_and_release() -> None:
                clean()
                release(consumer._unacked_messages)

            consumer._clean_unacked_messages = clean_and_release
            consumer._driftline_releases_dropped = True
        release(consumer._unacked_messages)
        await super()._consumer_wait_empty(consumer, logger)

"""Handing a fetched message to its streams without four asyncio tasks per message.

faust's fetcher (``Consumer._drain_messages``) delivers each message with
``await self.wait_first(callback(message), self.suspend_flow.wait())``: the conductor's
callback puts the event into every subscribed stream's buffer, and the wait lets a rebalance
(``suspend_flow``), a stop or a crash abandon a delivery that is blocked — on the flow
control during a rebalance, on a full producer buffer, or on a full stream buffer.
``wait_first`` wraps the callback, ``suspend_flow.wait()`` and the service's ``stopped`` and
``crashed`` events each in a task, waits for the first, then cancels three: ≈ 23 µs per
message on this machine, against ≈ 0.1 µs for awaiting the callback itself. At ≈ 8,000
events/s that is a fifth of a worker's core, spent before driftline sees an event.

Almost always the callback cannot block: the flow runs, the producer buffer is below its
limit, no subscription change holds the conductor's lock, and every stream buffer of the
message's partition has room. Then the callback runs to completion without yielding to the
loop, so nothing can interrupt it and a delivery that cannot block needs nothing to abandon
it: :class:`DirectDelivery` awaits it directly. In every other case it falls back to faust's
own ``wait_first``, so a blocked delivery is still abandoned exactly as faust abandons it
(and a put faust's callback started for a full buffer still lands when there is room, as it
does in faust).
``tests/unit/streams/test_delivery.py`` pins the premise (under these conditions faust's
callback finishes without suspending) against the installed faust.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Generator
from typing import Any

from mode.services import WaitResults

log = logging.getLogger(__name__)


class Delivery:
    """``callback(message)``, as the fetcher's ``wait_first`` receives it: awaitable like the
    coroutine, and carrying the message so the consumer can tell whether it can block."""

    __slots__ = ("coroutine", "message")

    def __init__(self, coroutine: Any, message: Any) -> None:
        self.coroutine = coroutine
        self.message = message

    def __await__(self) -> Generator[Any, None, Any]:
        return self.coroutine.__await__()  # type: ignore[no-any-return]


def can_deliver_now(app: Any, consumer: Any, message: Any) -> bool:
    """True when faust's conductor callback for ``message`` cannot suspend: it would run
    to completion without yielding to the event loop."""
    if (consumer.suspend_flow.is_set() or consumer._stopped.is_set()  # noqa: SLF001
            or consumer._crashed.is_set() or app.client_only  # noqa: SLF001
            or not app.flow_control.is_active()):
        return False
    buffer = app.producer.buffer
    if buffer.size > buffer.max_messages:  # the callback would flush it first
        return False
    conductor = app.topics
    lock = conductor._tp_to_callback_lock  # noqa: SLF001 - a subscription change holds it
    if lock.locked() or getattr(lock, "_waiters", None):  # acquire() would wait in both
        return False
    channels = conductor._tp_index.get(message.tp)  # noqa: SLF001 - not the defaultdict's []
    if not channels:
        return False  # no stream for it (or not assigned): faust's path decides
    return not any(channel.queue.full() for channel in channels)


class DirectDelivery:
    """Mixed into faust's consumer class: deliveries that cannot block are awaited directly
    (see the module's docstring); the rest go through faust's ``wait_first``."""

    app: Any
    callback: Callable[[Any], Awaitable[Any]]
    suspend_flow: Any

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        deliver = self.callback

        def callback(message: Any) -> Delivery:
            return Delivery(deliver(message), message)

        self.callback = callback  # what _drain_messages reads (once, when it starts)

    async def wait_first(self, *coros: Any, timeout: Any = None) -> WaitResults:
        if not coros or type(coros[0]) is not Delivery:
            return await super().wait_first(*coros, timeout=timeout)  # type: ignore[misc, no-any-return]
        delivery, *others = coros
        try:
            direct = can_deliver_now(self.app, self, delivery.message)
        except Exception:  # faust's internals moved (an upgrade): its own path, still correct
            if not _warned:
                log.warning("direct delivery is off: its check failed", exc_info=True)
                _warned.append(True)
            direct = False
        if direct:
            for other in others:  # ``suspend_flow.wait()``: created, never awaited
                close = getattr(other, "close", None)
                if close is not None:
                    close()
            return WaitResults([delivery], [await delivery.coroutine], False)
        return await super().wait_first(  # type: ignore[misc, no-any-return]
            delivery.coroutine, *others, timeout=timeout)


_CLASSES: dict[type, type] = {}
_warned: list[bool] = []


def direct_delivery(consumer_class: type) -> type:
    """``consumer_class`` with :class:`DirectDelivery` mixed in (one class per base)."""
    found = _CLASSES.get(consumer_class)
    if found is None:
        # its own name: mode keys a service's tasks by module and qualified name
        found = type(f"DirectDelivery{consumer_class.__name__}", (DirectDelivery, consumer_class),
                     {"__module__": __name__,
                      "__doc__": f"{consumer_class.__doc__ or ''} (direct delivery)"})
        _CLASSES[consumer_class] = found
    return found

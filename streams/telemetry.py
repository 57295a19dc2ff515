"""Where streams meet observability: topics whose sends carry the trace context, and the
wrapper each agent puts around a batch (a span per traced event, counts and latencies).

With tracing off, :func:`handling` reads no header and starts no span; it updates three
Prometheus series per batch.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Iterator, Sequence
from contextvars import ContextVar
from typing import Any

import faust
from faust.agents import current_agent
from faust.types import EventT

from observability import metrics, tracing

#: the spans of the batch being handled, by ``id(event)``
_SPANS: ContextVar[dict[int, Any] | None] = ContextVar("driftline_event_spans", default=None)


class TracedTopic(faust.Topic):
    """A topic whose ``send`` adds the current trace context to the message headers."""

    async def send(self, *, headers: Any = None, **kwargs: Any) -> Any:
        if tracing.enabled():
            headers = tracing.inject(headers)
        return await super().send(headers=headers, **kwargs)


def agent_name() -> str:
    agent = current_agent()
    if agent is None:
        return "unknown"
    return metrics.agent_label(agent)


def _event_spans(events: Sequence[EventT], agent: str) -> dict[int, Any]:
    spans: dict[int, Any] = {}
    for event in events:
        message = event.message
        parent = tracing.extract(message.headers)
        if parent is None:
            continue  # agents continue traces; they do not start one per untraced event
        spans[id(event)] = tracing.start_span(
            f"process {message.topic}", parent=parent, kind=tracing.SpanKind.CONSUMER,
            attributes={"messaging.system": "kafka", "messaging.operation.type": "process",
                        "messaging.destination.name": message.topic,
                        "messaging.destination.partition.id": str(message.partition),
                        "messaging.kafka.offset": message.offset, "driftline.agent": agent})
    return spans


@contextlib.contextmanager
def handling(events: Sequence[EventT]) -> Iterator[None]:
    """Handle a batch: with tracing on, each event with trace headers gets a child span for
    the batch's duration, the last one current (:func:`use_event` picks another); then the
    batch is counted and timed."""
    if not events:
        yield
        return
    agent = agent_name()
    started = time.perf_counter()
    spans = _event_spans(events, agent) if tracing.enabled() else None
    token = _SPANS.set(spans) if spans else None
    current = tracing.activate(list(spans.values())[-1]) if spans else tracing.NOTHING
    failure: BaseException | None = None
    try:
        with current:
            yield
    except BaseException as exc:
        failure = exc
        raise
    finally:
        if token is not None:
            _SPANS.reset(token)
        for span in (spans or {}).values():
            if failure is not None:
                span.record_exception(failure)
                span.set_status(tracing.Status(tracing.StatusCode.ERROR, repr(failure)[:200]))
            span.end()
        metrics.observe_batch(agent, events[0].message.topic, len(events),
                              time.perf_counter() - started,
                              min(e.message.timestamp or 0.0 for e in events))


def use_event(event: EventT | None) -> contextlib.AbstractContextManager[Any]:
    """Make ``event``'s span current, so what is sent in the block joins its trace (an event
    of the batch without one: no span is current)."""
    if not tracing.enabled():
        return tracing.NOTHING
    spans = _SPANS.get()
    if spans is None or event is None:
        return tracing.NOTHING
    return tracing.activate(spans.get(id(event)))


def use_events(events: Iterable[EventT]) -> contextlib.AbstractContextManager[Any]:
    """:func:`use_event` for the last of ``events`` that has a span (what they produced
    together joins its trace); ``events`` is not read while tracing is off."""
    if not tracing.enabled():
        return tracing.NOTHING
    spans = _SPANS.get()
    if spans is None:
        return tracing.NOTHING
    traced = [spans[id(e)] for e in events if id(e) in spans]
    return tracing.activate(traced[-1] if traced else None)

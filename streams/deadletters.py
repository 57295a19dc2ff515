"""Sending what cannot be processed to ``dead-letters``, with its bytes and the reason."""

from __future__ import annotations

import logging

from faust.types import EventT

from faust_app import settings
from observability import metrics, tracing
from schemas.events import dead_letter
from streams.telemetry import use_event
from streams.topics import dead_letters_topic

log = logging.getLogger(__name__)


async def send_dead_letter(event: EventT, reason: str) -> None:
    message = event.message
    with use_event(event):  # the letter joins the trace of the event it carries
        await send_dead_letter_for(
            topic=message.topic, partition=message.partition, offset=message.offset,
            key=message.key if isinstance(message.key, bytes) else None,
            value=message.value if isinstance(message.value, bytes) else None, reason=reason)


async def send_dead_letter_for(*, topic: str, partition: int | None, offset: int | None,
                               key: bytes | None, value: bytes | None, reason: str) -> None:
    """Dead-letter a message known by its coordinates (e.g. one held in state for a while)."""
    letter = dead_letter(topic=topic, partition=partition, offset=offset, key=key, value=value,
                         reason=reason, app_id=settings.app_id)
    log.warning("dead letter %s[%s]@%s: %s", topic, partition, offset, reason)
    metrics.DEAD_LETTERS.labels(topic, metrics.reason_class(reason)).inc()
    tracing.add_event("dead letter", {"reason": reason[:500]})
    await dead_letters_topic.send(key=key, value=letter.dumps())

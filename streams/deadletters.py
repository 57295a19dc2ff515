"""Sending what cannot be processed to ``dead-letters``, with its bytes, the reason and its
code (:class:`schemas.reasons.Reason`).

A letter always fits the producer's limit (``schemas.events.dead_letter`` keeps a bounded
prefix of an oversized message and says where the original is), and its send is held while
the broker is unreachable, so a poison message never crashes the agent that found it.
"""

from __future__ import annotations

import logging

from faust.types import EventT

from faust_app import settings
from observability import metrics, tracing
from resilience.backpressure import hold
from schemas.events import dead_letter
from schemas.reasons import Reason
from streams.admin import kafka_transient
from streams.telemetry import use_event
from streams.topics import dead_letters_topic

log = logging.getLogger(__name__)


async def send_dead_letter(event: EventT, reason: str, code: Reason) -> None:
    message = event.message
    with use_event(event):  # the letter joins the trace of the event it carries
        await send_dead_letter_for(
            topic=message.topic, partition=message.partition, offset=message.offset,
            key=message.key if isinstance(message.key, bytes) else None,
            value=message.value if isinstance(message.value, bytes) else None, reason=reason,
            code=code)


async def send_dead_letter_for(*, topic: str, partition: int | None, offset: int | None,
                               key: bytes | None, value: bytes | None, reason: str,
                               code: Reason) -> None:
    """Dead-letter a message known by its coordinates (e.g. one held in state for a while)."""
    letter = dead_letter(topic=topic, partition=partition, offset=offset, key=key, value=value,
                         reason=reason, app_id=settings.app_id, code=code)
    log.warning("dead letter %s[%s]@%s (%s): %s", topic, partition, offset, code, reason[:500])
    payload = letter.dumps()

    async def send() -> None:
        await (await dead_letters_topic.send(key=letter_key(key), value=payload))

    await hold("kafka", send, transient=kafka_transient, agent="dead-letters")
    metrics.DEAD_LETTERS.labels(topic, str(code)).inc()
    tracing.add_event("dead letter", {"reason": reason[:500], "code": str(code)})


def letter_key(key: bytes | None) -> bytes | None:
    """The letter is keyed like its message, within bounds (a key can be as large as a
    value)."""
    return key[:1024] if key is not None else None

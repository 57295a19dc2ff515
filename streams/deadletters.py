"""Sending what cannot be processed to ``dead-letters``, with its bytes and the reason."""

from __future__ import annotations

import logging

from faust.types import EventT

from faust_app import settings
from schemas.events import dead_letter
from streams.topics import dead_letters_topic

log = logging.getLogger(__name__)


async def send_dead_letter(event: EventT, reason: str) -> None:
    message = event.message
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
    await dead_letters_topic.send(key=key, value=letter.dumps())

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
    letter = dead_letter(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        key=message.key if isinstance(message.key, bytes) else None,
        value=message.value if isinstance(message.value, bytes) else None,
        reason=reason,
        app_id=settings.app_id,
    )
    log.warning("dead letter %s[%s]@%s: %s", message.topic, message.partition, message.offset,
                reason)
    await dead_letters_topic.send(key=message.key, value=letter.dumps())

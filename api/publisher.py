"""The API's few writes to Kafka: manual retrain triggers, job states, promotion decisions.

One producer per API process, started on first use (an API that never publishes never
connects to the broker) and stopped with the app. A publish is bounded by a timeout, so a
broker outage answers 503 instead of holding the request for aiokafka's own timeouts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from observability import tracing
from settings import KafkaSettings
from streams.admin import client_options, ensure_topics

log = logging.getLogger(__name__)
Item = tuple[str, bytes, bytes]  # (topic, key, value)


class PublishFailed(RuntimeError):
    """The broker did not acknowledge in time; nothing may be assumed delivered."""


class EventPublisher:
    def __init__(self, kafka: KafkaSettings, *, timeout: float) -> None:
        self.kafka, self.timeout = kafka, timeout
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()
        self._topics: set[str] = set()

    async def send(self, items: Sequence[Item]) -> None:
        """Publish ``items`` and wait until the broker has all of them (acks=all)."""
        try:
            await asyncio.wait_for(self._send(items), self.timeout)
        except (KafkaError, OSError, TimeoutError) as exc:
            log.error("publishing %d record(s) failed: %s", len(items), exc.__class__.__name__)
            await self.close()  # start afresh next time
            raise PublishFailed(f"Kafka did not acknowledge within {self.timeout:g}s") from exc

    async def _send(self, items: Sequence[Item]) -> None:
        producer = await self._started()
        missing = {topic for topic, _, _ in items} - self._topics
        if missing:  # the broker does not auto-create topics; a send would wait for them
            await ensure_topics(self.kafka, missing)
            self._topics |= missing
        # the request's trace goes on with the agents that consume these records
        headers = tracing.inject(None)
        pending = [await producer.send(topic, key=key, value=value, headers=headers)
                   for topic, key, value in items]
        await asyncio.gather(*pending)

    async def _started(self) -> AIOKafkaProducer:
        async with self._lock:
            if self._producer is None:
                producer = AIOKafkaProducer(**client_options(self.kafka), acks="all")
                try:
                    # its background sender task copies the current context: not the
                    # first request's span, which would otherwise stay current there for good
                    with tracing.activate(None):
                        await producer.start()
                except BaseException:
                    await producer.stop()
                    raise
                self._producer = producer
            return self._producer

    async def close(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            try:
                await producer.stop()
            except Exception:  # closing a broken producer must not hide the original error
                log.warning("stopping the Kafka producer failed", exc_info=True)

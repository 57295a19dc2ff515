"""Producing a benchmark's events: one producer, sends pipelined, optionally paced."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer

#: (key, value), or (key, value, partition) for an event that goes to a given partition
Item = tuple[bytes, bytes] | tuple[bytes, bytes, int]


async def produce(bootstrap: str, topic: str, items: Sequence[Item],
                  rate: float | None = None) -> list[float]:
    """Send ``items`` in order (at ``rate`` events/s when given); returns each send's time."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, acks="all",
                                max_batch_size=256 * 1024)
    await producer.start()
    sent_at = []
    try:
        started = time.monotonic()
        pending = []
        for i, (key, value, *where) in enumerate(items):
            pending.append(await producer.send(topic, key=key, value=value,
                                               partition=where[0] if where else None))
            sent_at.append(time.time())
            if rate is not None:
                ahead = (i + 1) / rate - (time.monotonic() - started)
                if ahead > 0:
                    await asyncio.sleep(ahead)
            if len(pending) >= 5000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return sent_at

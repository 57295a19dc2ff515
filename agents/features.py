"""Feature monitor: decode → window state and drift tests → drift events, alerts."""

from __future__ import annotations

from collections.abc import Sequence

import faust
from faust.types import EventT

from agents.monitoring import (
    apply_and_publish,
    decode_batch,
    monitor_config,
    monitor_step,
    origin_of,
    utc,
)
from faust_app import app, settings
from monitors.drift_monitor import Observation
from schemas.events import FeatureEvent
from streams.gaps import guarded_batches
from streams.telemetry import handling
from streams.topics import features_topic


async def process_batch(events: Sequence[EventT]) -> int:
    """Handle one batch; never raises on data. Returns the number of events applied."""
    groups = await decode_batch(events, FeatureEvent, features_topic)
    applied = 0
    for (model, version), items in groups.items():
        observations = [
            Observation(offset=event.message.offset, partition=event.message.partition,
                        timestamp=utc(record.timestamp), features=record.features,
                        origin=origin_of(event))
            for event, record in items
        ]
        step = monitor_step(model, version, observations, monitor_config(model))
        if await apply_and_publish(model, items, step, "feature monitor"):
            applied += len(items)
    return applied


@app.agent(features_topic, concurrency=1)
async def monitor_features(stream: faust.StreamT[bytes]) -> None:
    async for events in guarded_batches(app, stream, "monitor_features", size=settings.drift.batch_size,
                                        within=settings.drift.batch_seconds,
                                        enabled=settings.kafka.offset_guard):
        with handling(events):
            await process_batch(events)

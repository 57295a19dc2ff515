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
from streams.gaps import process_batches
from streams.topics import features_topic


def observation(event: EventT, record: FeatureEvent) -> Observation:
    return Observation(offset=event.message.offset, partition=event.message.partition,
                       timestamp=utc(record.timestamp), features=record.features,
                       origin=origin_of(event))


async def process_batch(events: Sequence[EventT]) -> int:
    """Handle one batch; never raises on data. Returns the number of events applied."""
    groups = await decode_batch(events, FeatureEvent, features_topic, observation)
    applied = 0
    for (model, version), items in groups.items():
        def make_step(chosen, model=model, version=version):  # type: ignore[no-untyped-def]
            return monitor_step(model, version, [o for _, o in chosen], monitor_config(model))

        applied += len(await apply_and_publish(model, items, make_step, "feature monitor"))
    return applied


@app.agent(features_topic, concurrency=1)
async def monitor_features(stream: faust.StreamT[bytes]) -> None:
    await process_batches(app, stream, "monitor_features", process_batch,
                          size=settings.drift.batch_size, within=settings.drift.batch_seconds,
                          enabled=settings.kafka.offset_guard)

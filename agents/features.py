"""Feature monitor: decode → window state and drift tests → drift events, alerts.

A model with ``shards > 1`` is not monitored here but by its reducer (agents/reducer.py):
this agent, on each of the model's shard partitions, decodes, validates and samples its
events and hands them over as partials (streams/shards.py).
"""

from __future__ import annotations

import asyncio
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
from resilience.backpressure import hold
from schemas.events import FeatureEvent
from streams.admin import kafka_transient
from streams.gaps import process_batches
from streams.shards import Partial, placement, sampled
from streams.telemetry import use_events
from streams.topics import feature_partials_topic, features_topic

#: a partial carries at most about this many bytes of events (Kafka's default message limit
#: is 1 MB): a batch of large events becomes several partials
PARTIAL_BYTES = 512 * 1024


_OPTIONS: dict[str, tuple[int, float]] = {}


def options(model: str) -> tuple[int, float]:
    """``model``'s (shards, sample_rate); asked twice per event, so kept (settings do not
    change while a worker runs; model names are bounded by the cache's size)."""
    found = _OPTIONS.get(model)
    if found is None:
        effective = settings.drift.for_model(model)
        found = (effective["shards"], effective["sample_rate"])
        if len(_OPTIONS) >= 10_000:
            _OPTIONS.clear()
        _OPTIONS[model] = found
    return found


def place(record: FeatureEvent) -> tuple[bytes, int] | None:
    shards = options(record.model_name)[0]
    if shards <= 1:
        return None
    return placement(record.model_name, record.event_id, shards, settings.kafka.partitions)


def keep(record: FeatureEvent) -> bool:
    return sampled(record.event_id, options(record.model_name)[1])


def observation(event: EventT, record: FeatureEvent) -> Observation:
    return Observation(offset=event.message.offset, partition=event.message.partition,
                       timestamp=utc(record.timestamp), features=record.features,
                       origin=origin_of(event))


async def process_batch(events: Sequence[EventT]) -> int:
    """Handle one batch; never raises on data. Returns the number of events applied."""
    groups = await decode_batch(events, FeatureEvent, features_topic, observation,
                                place=place, keep=keep)
    applied = 0
    for (model, version), items in groups.items():
        if options(model)[0] > 1:
            await hold("kafka", lambda m=model, v=version, i=items: hand_over(m, v, i),
                       transient=kafka_transient, agent="feature shard")
            applied += len(items)
            continue

        def make_step(chosen, model=model, version=version):  # type: ignore[no-untyped-def]
            return monitor_step(model, version, [o for _, o in chosen], monitor_config(model))

        applied += len(await apply_and_publish(model, items, make_step, "feature monitor"))
    return applied


async def hand_over(model: str, version: str,
                    items: Sequence[tuple[EventT, Observation]]) -> None:
    """Publish a shard's events of (model, version) to the model's reducer and wait until
    the broker has them (the batch's offsets are committed after: a crash publishes them
    again, and the reducer skips offsets it has applied)."""
    by_partition: dict[int, dict[int, Observation]] = {}
    for _, obs in items:  # a worker may hold several of the model's shards
        by_partition.setdefault(obs.partition, {})[obs.offset] = obs
    partials: list[list[Observation]] = []
    sizes = {(event.message.partition, event.message.offset): len(event.message.value or b"")
             for event, _ in items}
    for by_offset in by_partition.values():
        # a batch can hold a partition's messages twice, or restart lower, when faust or the
        # offset guard sought back (a rebalance, a hole): one offset is one event, and a
        # partial carries each once, in offset order, as the reducer requires
        rows = [by_offset[offset] for offset in sorted(by_offset)]
        part: list[Observation] = []
        size = 0
        for obs in rows:
            part.append(obs)
            size += sizes.get((obs.partition, obs.offset), 0)
            if size >= PARTIAL_BYTES:
                partials.append(part)
                part, size = [], 0
        if part:
            partials.append(part)
    pending = []
    with use_events(event for event, _ in items):
        for part in partials:
            partial = Partial(
                model=model, version=version, partition=part[0].partition,
                offsets=[o.offset for o in part], timestamps=[o.timestamp for o in part],
                origins=[o.origin for o in part], features=[o.features for o in part])
            pending.append(await feature_partials_topic.send(key=model.encode(),
                                                             value=partial.encode()))
    await asyncio.gather(*pending)


@app.agent(features_topic, concurrency=1)
async def monitor_features(stream: faust.StreamT[bytes]) -> None:
    await process_batches(app, stream, "monitor_features", process_batch,
                          size=settings.drift.feature_batch_size, within=settings.drift.batch_seconds,
                          enabled=settings.kafka.offset_guard)

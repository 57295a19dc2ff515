"""Feature monitor: decode → apply to window state → publish drift events."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import faust
from faust.types import EventT

import drift
from faust_app import app, settings
from schemas.events import FeatureEvent, decode
from schemas.spec import InvalidEvent, Limits
from streams.deadletters import send_dead_letter
from streams.topics import drift_events_topic, features_topic
from tables.feature_state import TableStore
from tables.monitor import FeatureMonitor, MonitorConfig, Observation

log = logging.getLogger(__name__)

LIMITS = Limits(**settings.limits.model_dump())
CONFIG = MonitorConfig(
    app_id=settings.app_id,
    reference_size=settings.drift.reference_size,
    window_size=settings.drift.window_size,
    psi_bins=settings.drift.psi_bins,
    policy=drift.DriftPolicy(
        alpha=settings.drift.alpha,
        default=drift.FeaturePolicy(min_psi=settings.drift.min_psi,
                                    min_distance=settings.drift.min_distance),
    ),
)
REROUTED_HEADER = "driftline-rerouted-from"


async def reroute(event: EventT, model_name: str) -> None:
    """An event keyed by something other than its model goes back to the topic keyed right,
    so all of a model's events meet in one partition (and one worker's state)."""
    message = event.message
    origin = f"{message.partition}:{message.offset}".encode()
    log.info("re-keying event at %s[%s]@%s to %r", message.topic, message.partition,
             message.offset, model_name)
    await features_topic.send(key=model_name.encode(), value=message.value,
                              headers=[(REROUTED_HEADER, origin)])


async def process_batch(events: Sequence[EventT]) -> int:
    """Handle one batch; never raises on data. Returns the number of events applied."""
    groups: dict[tuple[str, str], list[tuple[EventT, Observation]]] = {}
    for event in events:
        message = event.message
        try:
            record = decode(message.value, FeatureEvent, LIMITS)
        except InvalidEvent as exc:
            await send_dead_letter(event, exc.reason)
            continue
        if message.key != record.model_name.encode():
            await reroute(event, record.model_name)
            continue
        observation = Observation(offset=message.offset, partition=message.partition,
                                  timestamp=record.timestamp, features=record.features)
        groups.setdefault((record.model_name, record.model_version), []).append(
            (event, observation))
    applied = 0
    for (model, version), items in groups.items():
        monitor = FeatureMonitor(TableStore(items[-1][0]), CONFIG)
        try:
            results = monitor.apply(model, version, [obs for _, obs in items])
        except Exception as exc:  # a bug must not stop the stream nor lose these events
            log.exception("monitor failed for %s/%s", model, version)
            for event, _ in items:
                await send_dead_letter(event, f"internal error in feature monitor: {exc!r}")
            continue
        applied += len(items)
        for result in results:
            await drift_events_topic.send(key=model.encode(), value=result.dumps())
    return applied


@app.agent(features_topic, concurrency=1)
async def monitor_features(stream: faust.StreamT[bytes]) -> None:
    async for events in stream.take_events(settings.drift.batch_size,
                                           within=settings.drift.batch_seconds):
        await process_batch(events)

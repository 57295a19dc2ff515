"""Explicit references: a profile published to ``reference-profiles`` becomes the frozen
reference of (model, version), replacing one taken from its first events. A profile keyed by
something other than its model is re-sent under the model's key, like every input event."""

from __future__ import annotations

import faust
from faust.types import EventT

import drift
from agents.monitoring import monitor_config, reroute_to
from faust_app import app, settings
from monitors.buffered import BufferedStore
from monitors.drift_monitor import FeatureMonitor
from monitors.estimation import set_calibration
from schemas.events import ReferenceProfileEvent, decode
from schemas.reasons import Reason
from schemas.spec import InvalidEvent
from streams.deadletters import send_dead_letter
from streams.gaps import process_batches
from streams.telemetry import use_event
from streams.topics import reference_profiles_topic
from tables.feature_state import TableStore

PROFILE_LIMITS = settings.limits.for_events(profile=True)


async def set_reference(event: EventT) -> None:
    try:
        record = decode(event.message.value, ReferenceProfileEvent, PROFILE_LIMITS)
        profiles = drift.profiles_from_dict(record.profile)
    except InvalidEvent as exc:
        await send_dead_letter(event, exc.reason, exc.code)
        return
    except ValueError as exc:
        await send_dead_letter(event, f"profile: {exc}"[:1000], Reason.INVALID_PROFILE)
        return
    if event.message.key != record.model_name.encode():
        # the same rule as every input topic: re-sent once under its model's key, so the
        # reference is written by the worker that owns the model's monitor state
        with use_event(event):
            await reroute_to(reference_profiles_topic, event, record.model_name)
        return
    store = BufferedStore(TableStore(event))
    calibration = record.profile.get("calibration")
    if calibration is not None:  # `driftline reference set --target`: estimation's reference
        try:
            set_calibration(store, record.model_name, record.model_version, calibration)
        except ValueError as exc:
            await send_dead_letter(event, f"calibration: {exc}")
            return
    FeatureMonitor(store, monitor_config(record.model_name)).set_reference(
        record.model_name, record.model_version, event.message.partition, profiles,
        record.event_id)
    store.commit()


async def process_batch(events: list[EventT]) -> None:
    for event in events:
        await set_reference(event)


@app.agent(reference_profiles_topic, concurrency=1)
async def set_references(stream: faust.StreamT[bytes]) -> None:
    await process_batches(app, stream, "set_references", process_batch, size=10, within=0.5,
                          enabled=settings.kafka.offset_guard)

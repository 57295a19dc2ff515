"""Explicit references: a profile published to ``reference-profiles`` becomes the frozen
reference of (model, version), replacing one taken from its first events."""

from __future__ import annotations

import faust
from faust.types import EventT

import drift
from agents.monitoring import monitor_config
from faust_app import app, settings
from schemas.events import ReferenceProfileEvent, decode
from schemas.reasons import Reason
from schemas.spec import InvalidEvent
from streams.deadletters import send_dead_letter
from streams.telemetry import handling
from streams.topics import reference_profiles_topic
from tables.buffered import BufferedStore
from tables.feature_state import TableStore
from tables.monitor import FeatureMonitor

PROFILE_LIMITS = settings.limits.for_events(profile=True)


@app.agent(reference_profiles_topic, concurrency=1)
async def set_references(stream: faust.StreamT[bytes]) -> None:
    async for event in stream.events():
        with handling([event]):
            await set_reference(event)


async def set_reference(event: EventT) -> None:
    try:
        record = decode(event.message.value, ReferenceProfileEvent, PROFILE_LIMITS)
        profiles = drift.profiles_from_dict(record.profile)
    except InvalidEvent as exc:
        await send_dead_letter(event, exc.reason, exc.code)
        return
    except ValueError as exc:
        await send_dead_letter(event, f"profile: {exc}", Reason.INVALID_PROFILE)
        return
    if event.message.key != record.model_name.encode():
        await send_dead_letter(event, "reference profiles must be keyed by model_name",
                               Reason.INVALID_PROFILE)
        return
    store = BufferedStore(TableStore(event))
    FeatureMonitor(store, monitor_config(record.model_name)).set_reference(
        record.model_name, record.model_version, event.message.partition, profiles,
        record.event_id)
    store.commit()

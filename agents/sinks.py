"""Sinks from topics into PostgreSQL, idempotent on ``event_id``.

A batch is written in one statement; a transient database fault is retried with backoff;
what still cannot be written goes to ``dead-letters`` with the reason, never dropped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any

import faust
from faust.types import EventT
from sqlalchemy import Engine

from faust_app import app, database, settings
from schemas.events import (
    DeadLetter,
    DriftEvent,
    Event,
    LabelledPredictionEvent,
    MetricEvent,
    decode,
)
from schemas.spec import InvalidEvent
from storage.db import is_transient
from storage.repository import (
    save_dead_letters,
    save_drift_events,
    save_labelled,
    save_metrics,
)
from streams.deadletters import send_dead_letter
from streams.gaps import guarded_batches
from streams.telemetry import handling
from streams.topics import (
    dead_letters_topic,
    drift_events_topic,
    labelled_predictions_topic,
    performance_metrics_topic,
)

log = logging.getLogger(__name__)
LIMITS = settings.limits.for_events()
SaveFn = Callable[[Engine, Sequence[Any]], int]


async def write_batch(name: str, save: SaveFn, batch: Sequence[tuple[EventT, Any]],
                      *, dead_letter_failures: bool = True) -> int:
    """Write records; on a lasting failure isolate the bad rows and dead-letter only those."""
    records = [record for _, record in batch]
    if not records:
        return 0
    try:
        return await asyncio.to_thread(save, database(), records)
    except Exception as exc:
        if is_transient(exc):
            failed = list(batch)
            reason = f"{name}: database unavailable after retries: {exc.__class__.__name__}"
        else:
            failed, written = [], 0
            for item in batch:
                try:
                    written += await asyncio.to_thread(save, database(), [item[1]])
                except Exception as row_exc:  # noqa: BLE001 - reported per row below
                    failed.append(item)
                    reason = f"{name}: rejected by the database: {row_exc.__class__.__name__}"
            if not failed:
                return written
        log.error("%s: %d record(s) not written: %s", name, len(failed), reason)
        if dead_letter_failures:
            for event, _ in failed:
                await send_dead_letter(event, reason)
        return 0


async def sink(stream: faust.StreamT[bytes], record: type[Event], table: str,
               save: SaveFn, prepare: Callable[[Any], Any] | None = None) -> None:
    """Decode each batch (dead-lettering what does not validate), pass each record through
    ``prepare`` (which may raise :class:`InvalidEvent` too), and write them to ``table``."""
    async for events in guarded_batches(app, stream, table, size=500,
                                        within=1.0,
                                        enabled=settings.kafka.offset_guard):
        with handling(events):
            batch: list[tuple[EventT, Any]] = []
            for event in events:
                try:
                    value = decode(event.message.value, record, LIMITS)
                    batch.append((event, prepare(value) if prepare is not None else value))
                except InvalidEvent as exc:
                    await send_dead_letter(event, exc.reason)
            await write_batch(table, save, batch)


@app.agent(drift_events_topic, concurrency=1)
async def store_drift_events(stream: faust.StreamT[bytes]) -> None:
    await sink(stream, DriftEvent, "drift_results", save_drift_events)


@app.agent(performance_metrics_topic, concurrency=1)
async def store_metrics(stream: faust.StreamT[bytes]) -> None:
    await sink(stream, MetricEvent, "performance_metrics", save_metrics)


@app.agent(labelled_predictions_topic, concurrency=1)
async def store_labelled(stream: faust.StreamT[bytes]) -> None:
    await sink(stream, LabelledPredictionEvent, "labelled_predictions", save_labelled)


@app.agent(dead_letters_topic, concurrency=1)
async def store_dead_letters(stream: faust.StreamT[bytes]) -> None:
    # A dead letter that cannot be stored stays in its topic; sending it to dead-letters
    # again would loop, so failures here are logged only.
    async for events in stream.take_events(500, within=1.0):
        with handling(events):
            batch: list[tuple[EventT, Any]] = []
            for event in events:
                try:
                    batch.append((event, DeadLetter.loads(event.message.value)))
                except Exception as exc:  # noqa: BLE001
                    log.error("unreadable dead letter at offset %s: %r", event.message.offset, exc)
            await write_batch("dead_letters", save_dead_letters, batch, dead_letter_failures=False)

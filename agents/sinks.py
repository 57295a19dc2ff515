"""Sinks from topics into PostgreSQL, idempotent on ``event_id``.

A batch is written in one statement. While the database is unavailable the sink holds its
batch and retries (backpressure: nothing is acknowledged, nothing dead-lettered); a row the
database refuses as invalid goes to ``dead-letters`` with the reason, never dropped.
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
from resilience.backpressure import hold
from schemas.events import (
    DeadLetter,
    DriftEvent,
    Event,
    LabelledPredictionEvent,
    MetricEvent,
    decode,
)
from schemas.reasons import Reason
from schemas.spec import InvalidEvent
from storage.db import is_transient
from storage.repository import (
    save_dead_letters,
    save_drift_events,
    save_labelled,
    save_metrics,
)
from streams.deadletters import send_dead_letter
from streams.gaps import process_batches
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
                      *, dead_letter_rejected: bool = True) -> int:
    """Write records, holding while the database is unavailable (never dead-lettering for
    that); when it refuses the batch, isolate the rows it refuses and dead-letter only those
    (``database_rejected``)."""
    records = [record for _, record in batch]
    if not records:
        return 0

    async def write(rows: list[Any]) -> int:
        return await hold("postgres", lambda: asyncio.to_thread(save, database(), rows),
                          transient=is_transient, agent=f"sink {name}")

    try:
        return await write(records)
    except Exception:  # noqa: BLE001 - refused, not unavailable: find the rows it refuses
        log.warning("%s: the database refused a batch of %d; writing row by row", name,
                    len(records), exc_info=True)
    written = 0
    for event, record in batch:
        try:
            written += await write([record])
        except Exception as exc:  # noqa: BLE001 - reported per row below
            reason = f"{name}: rejected by the database: {exc.__class__.__name__}: {exc}"
            log.error("%s", reason[:1000])
            if dead_letter_rejected:
                await send_dead_letter(event, reason[:1000], Reason.DATABASE_REJECTED)
    return written


async def sink(stream: faust.StreamT[bytes], record: type[Event], table: str,
               save: SaveFn, prepare: Callable[[Any], Any] | None = None) -> None:
    """Decode each batch (dead-lettering what does not validate), pass each record through
    ``prepare`` (which may raise :class:`InvalidEvent` too), and write them to ``table``."""

    async def handle(events: list[EventT]) -> None:
        batch: list[tuple[EventT, Any]] = []
        for event in events:
            try:
                value = decode(event.message.value, record, LIMITS)
                batch.append((event, prepare(value) if prepare is not None else value))
            except InvalidEvent as exc:
                await send_dead_letter(event, exc.reason, exc.code)
            except Exception as exc:  # noqa: BLE001 - one message must not stop the sink
                log.exception("%s: preparing %s@%s failed", table, event.message.topic,
                              event.message.offset)
                await send_dead_letter(event, f"internal error in the {table} sink: {exc!r}"
                                       [:1000], Reason.INTERNAL_ERROR)
        await write_batch(table, save, batch)

    await process_batches(app, stream, table, handle, size=500, within=1.0,
                          enabled=settings.kafka.offset_guard)


@app.agent(drift_events_topic, concurrency=1)
async def store_drift_events(stream: faust.StreamT[bytes]) -> None:
    await sink(stream, DriftEvent, "drift_events", save_drift_events)


@app.agent(performance_metrics_topic, concurrency=1)
async def store_metrics(stream: faust.StreamT[bytes]) -> None:
    await sink(stream, MetricEvent, "performance_metrics", save_metrics)


@app.agent(labelled_predictions_topic, concurrency=1)
async def store_labelled(stream: faust.StreamT[bytes]) -> None:
    await sink(stream, LabelledPredictionEvent, "labelled_predictions", save_labelled)


@app.agent(dead_letters_topic, concurrency=1)
async def store_dead_letters(stream: faust.StreamT[bytes]) -> None:
    # A letter the database refuses stays in its topic (sending it to dead-letters again
    # would loop): logged. One that is not even a letter is someone else's message: logged.
    async def handle(events: list[EventT]) -> None:
        batch: list[tuple[EventT, Any]] = []
        for event in events:
            try:
                batch.append((event, DeadLetter.loads(event.message.value)))
            except Exception as exc:  # noqa: BLE001
                log.error("unreadable dead letter at offset %s: %r", event.message.offset, exc)
        await write_batch("dead_letters", save_dead_letters, batch, dead_letter_rejected=False)

    await process_batches(app, stream, "dead_letters", handle, size=500, within=1.0,
                          enabled=settings.kafka.offset_guard)

"""Sinks of the governed loop's topics into PostgreSQL (idempotent; see :mod:`agents.sinks`)."""

from __future__ import annotations

from typing import Any

import faust
from faust.types import EventT

from agents.sinks import LIMITS, SaveFn, write_batch
from faust_app import app
from schemas.events import Event, decode
from schemas.governance import PromotionEvent, RetrainRequest, TrainingJob
from schemas.spec import InvalidEvent
from storage.governance_repository import (
    save_promotion_events,
    save_retrain_requests,
    save_training_jobs,
)
from streams.deadletters import send_dead_letter
from streams.telemetry import handling
from streams.topics import promotion_events_topic, retrain_requests_topic, training_jobs_topic


async def _sink(stream: faust.StreamT[bytes], record: type[Event], name: str, save: SaveFn) -> None:
    async for events in stream.take_events(500, within=1.0):
        with handling(events):
            batch: list[tuple[EventT, Any]] = []
            for event in events:
                try:
                    batch.append((event, decode(event.message.value, record, LIMITS)))
                except InvalidEvent as exc:
                    await send_dead_letter(event, exc.reason)
            await write_batch(name, save, batch)


@app.agent(retrain_requests_topic, concurrency=1)
async def store_retrain_requests(stream: faust.StreamT[bytes]) -> None:
    await _sink(stream, RetrainRequest, "retrain_requests", save_retrain_requests)


@app.agent(training_jobs_topic, concurrency=1)
async def store_training_jobs(stream: faust.StreamT[bytes]) -> None:
    await _sink(stream, TrainingJob, "retrain_jobs", save_training_jobs)


@app.agent(promotion_events_topic, concurrency=1)
async def store_promotion_events(stream: faust.StreamT[bytes]) -> None:
    await _sink(stream, PromotionEvent, "promotion_decisions", save_promotion_events)

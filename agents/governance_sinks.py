"""Sinks of the governed loop's topics into PostgreSQL (idempotent; see :mod:`agents.sinks`)."""

from __future__ import annotations

import faust

from agents.sinks import sink
from faust_app import app
from schemas.governance import PromotionEvent, RetrainRequest, TrainingJob
from storage.governance_repository import (
    save_promotion_events,
    save_retrain_requests,
    save_training_jobs,
)
from streams.topics import promotion_events_topic, retrain_requests_topic, training_jobs_topic


@app.agent(retrain_requests_topic, concurrency=1)
async def store_retrain_requests(stream: faust.StreamT[bytes]) -> None:
    await sink(stream, RetrainRequest, "retrain_requests", save_retrain_requests)


@app.agent(training_jobs_topic, concurrency=1)
async def store_training_jobs(stream: faust.StreamT[bytes]) -> None:
    await sink(stream, TrainingJob, "training_jobs", save_training_jobs)


@app.agent(promotion_events_topic, concurrency=1)
async def store_promotion_events(stream: faust.StreamT[bytes]) -> None:
    await sink(stream, PromotionEvent, "promotion_events", save_promotion_events)

"""Predictions: model drift (prediction and confidence distributions) and the label join."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import faust
from faust.types import EventT

from agents.labels import join_config, publish_join
from agents.monitoring import (
    apply_and_publish,
    decode_batch,
    monitor_config,
    monitor_step,
    origin_of,
    utc,
)
from agents.performance import estimation_config
from faust_app import app, settings
from monitors.buffered import BufferedStore
from monitors.drift_monitor import MonitorOutput, Observation
from monitors.estimation import EstimationConfig, PerformanceEstimator
from monitors.estimation import PredictionIn as EstimateIn
from monitors.label_join import LabelJoin, PredictionIn, SourceRef
from schemas.events import PredictionEvent
from streams.gaps import guarded_batches
from streams.telemetry import handling
from streams.topics import predictions_topic
from tables.feature_state import JoinStore


def model_signal(record: PredictionEvent) -> dict[str, object]:
    """What model drift watches: the prediction itself and the top-class confidence."""
    signal: dict[str, object] = {"prediction": record.prediction}
    if record.probabilities:
        signal["confidence"] = max(record.probabilities.values())
    return signal


def estimating(step: Callable[[BufferedStore], MonitorOutput], model: str, version: str,
               config: EstimationConfig, batch: list[EstimateIn],
               ) -> Callable[[BufferedStore], MonitorOutput]:
    """``step``, then this batch's predictions into the estimator (same state, one commit)."""
    def both(store: BufferedStore) -> MonitorOutput:
        out = step(store)
        out.extend(PerformanceEstimator(store, config).apply(model, version, batch))
        return out

    return both


async def process_batch(events: Sequence[EventT]) -> None:
    groups = await decode_batch(events, PredictionEvent, predictions_topic)
    by_model: dict[str, list[tuple[EventT, PredictionEvent]]] = {}
    for (model, version), items in groups.items():
        observations = [Observation(offset=e.message.offset, partition=e.message.partition,
                                    timestamp=utc(r.timestamp), features=model_signal(r),
                                    origin=origin_of(e))
                        for e, r in items]
        config = monitor_config(model, "p", "model_drift", ("confidence",))
        step = monitor_step(model, version, observations, config)
        estimation = estimation_config()
        if estimation is not None:
            step = estimating(step, model, version, estimation, [
                EstimateIn(e.message.offset, utc(r.timestamp), r.prediction, r.probabilities)
                for e, r in items])
        if await apply_and_publish(model, items, step, "model-drift monitor"):
            by_model.setdefault(model, []).extend(items)
    for model, items in by_model.items():
        items.sort(key=lambda item: item[0].message.offset)
        batch = [PredictionIn(
            source=SourceRef(e.message.topic, e.message.partition, e.message.offset,
                             e.message.key, e.message.value),
            event_id=r.event_id, model_version=r.model_version, timestamp=utc(r.timestamp),
            prediction=r.prediction, probabilities=r.probabilities, features=r.features)
            for e, r in items]
        await apply_and_publish(
            model, items, lambda store, m=model, b=batch: LabelJoin(store, join_config())
            .add_predictions(m, b), "label join", publish_join, JoinStore)


@app.agent(predictions_topic, concurrency=1)
async def monitor_predictions(stream: faust.StreamT[bytes]) -> None:
    async for events in guarded_batches(app, stream, "monitor_predictions", size=settings.drift.batch_size,
                                        within=settings.drift.batch_seconds,
                                        enabled=settings.kafka.offset_guard):
        with handling(events):
            await process_batch(events)

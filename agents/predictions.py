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
from streams.gaps import process_batches
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


def prepare(event: EventT, record: PredictionEvent) -> tuple[Observation, PredictionIn]:
    message = event.message
    when = utc(record.timestamp)
    return (Observation(offset=message.offset, partition=message.partition, timestamp=when,
                        features=model_signal(record), origin=origin_of(event)),
            PredictionIn(source=SourceRef(message.topic, message.partition, message.offset,
                                          message.key, message.value),
                         event_id=record.event_id, model_version=record.model_version,
                         timestamp=when, prediction=record.prediction,
                         probabilities=record.probabilities, features=record.features))


async def process_batch(events: Sequence[EventT]) -> None:
    groups = await decode_batch(events, PredictionEvent, predictions_topic, prepare)
    by_model: dict[str, list[tuple[EventT, tuple[Observation, PredictionIn]]]] = {}
    for (model, version), items in groups.items():
        config = monitor_config(model, "p", "model_drift", ("confidence",))
        estimation = estimation_config()

        def make_step(chosen, model=model, version=version, config=config,  # type: ignore[no-untyped-def]
                      estimation=estimation):
            step = monitor_step(model, version, [o for _, (o, _) in chosen], config)
            if estimation is None:
                return step
            return estimating(step, model, version, estimation, [
                EstimateIn(p.source.offset, p.timestamp, p.prediction, p.probabilities)
                for _, (_, p) in chosen])

        # only what the monitor applied joins (a poison event was dead-lettered there)
        by_model.setdefault(model, []).extend(
            await apply_and_publish(model, items, make_step, "model-drift monitor"))
    for model, items in by_model.items():
        items.sort(key=lambda item: item[0].message.offset)

        def join(chosen, model=model):  # type: ignore[no-untyped-def]
            batch = [p for _, (_, p) in chosen]
            return lambda store: LabelJoin(store, join_config()).add_predictions(model, batch)

        await apply_and_publish(model, items, join, "label join", publish_join, JoinStore)


@app.agent(predictions_topic, concurrency=1)
async def monitor_predictions(stream: faust.StreamT[bytes]) -> None:
    await process_batches(app, stream, "monitor_predictions", process_batch,
                          size=settings.drift.batch_size, within=settings.drift.batch_seconds,
                          enabled=settings.kafka.offset_guard)

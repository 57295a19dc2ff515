"""Labels: joined to their predictions by event_id; the pairs feed performance monitoring."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from functools import cache

import faust
from faust.types import EventT

from agents.monitoring import apply_and_publish, decode_batch, utc
from agents.publish import publish
from faust_app import app, settings
from monitors.label_join import JoinConfig, JoinOutput, LabelIn, LabelJoin, SourceRef
from schemas.events import LabelEvent, LabelledPredictionEvent
from schemas.spec import SCHEMA_VERSION
from streams.deadletters import send_dead_letter_for
from streams.gaps import process_batches
from streams.topics import labelled_predictions_topic, labels_topic
from tables.feature_state import JoinStore


@cache
def join_config() -> JoinConfig:
    return JoinConfig(ttl=timedelta(days=settings.performance.join_ttl_days),
                      grace=timedelta(hours=settings.performance.label_grace_hours))


async def publish_join(model: str, out: JoinOutput) -> None:
    """Send the joined pairs (and wait for them) and dead-letter what the join rejected."""
    pairs = [LabelledPredictionEvent(
        event_id=j.prediction_event_id, schema_version=SCHEMA_VERSION, model_name=j.model,
        model_version=j.model_version, timestamp=j.prediction_time, label_time=utc(j.label_time),
        prediction=j.prediction, label=j.label, probabilities=j.probabilities,
        features=j.features).dumps() for j in out.joined]
    await publish(labelled_predictions_topic, model.encode(), pairs)
    for rejected in out.rejected:
        ref = rejected.source
        await send_dead_letter_for(topic=ref.topic, partition=ref.partition, offset=ref.offset,
                                   key=ref.key, value=ref.value, reason=rejected.reason,
                                   code=rejected.code)


def label_in(event: EventT, record: LabelEvent) -> LabelIn:
    m = event.message
    return LabelIn(
        source=SourceRef(m.topic, m.partition, m.offset, m.key, m.value),
        event_id=record.event_id, prediction_event_id=record.prediction_event_id,
        timestamp=utc(record.timestamp), label=record.label,
        prediction_timestamp=(utc(record.prediction_timestamp)
                              if record.prediction_timestamp else None))


async def process_batch(events: Sequence[EventT]) -> None:
    groups = await decode_batch(events, LabelEvent, labels_topic, label_in)
    by_model: dict[str, list[tuple[EventT, LabelIn]]] = {}
    for (model, _), items in groups.items():
        by_model.setdefault(model, []).extend(items)
    for model, items in by_model.items():
        items.sort(key=lambda item: item[0].message.offset)

        def join(chosen, model=model):  # type: ignore[no-untyped-def]
            batch = [label for _, label in chosen]
            return lambda store: LabelJoin(store, join_config()).add_labels(model, batch)

        await apply_and_publish(model, items, join, "label join", publish_join, JoinStore)


@app.agent(labels_topic, concurrency=1)
async def join_labels(stream: faust.StreamT[bytes]) -> None:
    await process_batches(app, stream, "join_labels", process_batch,
                          size=settings.drift.batch_size, within=settings.drift.batch_seconds,
                          enabled=settings.kafka.offset_guard)

"""A sharded model's reducer: every shard's partials → one monitor (windows, tests, alert
hygiene, detectors) → drift events, alerts.

Partials are keyed by model, so one worker reduces each model (the one that owns the model's
home partition, where its references and state live too: ``feature-partials`` has as many
partitions as ``features``, and faust assigns co-partitioned topics together). The monitor
keeps the highest offset applied per shard partition, so a partial a crashed shard published
again is applied once, and applies events in merged event-time order, not in the order their
partials arrive (monitors/staging.py): the model decides as an unsharded one would.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import faust
from faust.types import TP, EventT

from agents.monitoring import Items, apply_and_publish, monitor_config, monitor_step
from agents.publish import forget_staged
from faust_app import app, settings
from monitors.drift_monitor import Observation
from schemas.reasons import Reason
from streams.deadletters import send_dead_letter
from streams.gaps import process_batches
from streams.shards import Partial
from streams.topics import feature_partials_topic

#: partials per batch: each holds up to a shard's whole batch of events
PARTIALS_PER_BATCH = 50


def observations(partials: Items) -> list[Observation]:
    """The events of ``partials``, in the order the reducer received them (the monitor puts
    them in event-time order)."""
    return [Observation(offset=offset, partition=partial.partition, timestamp=timestamp,
                        features=features, origin=origin)
            for _, partial in partials
            for offset, timestamp, origin, features in zip(
                partial.offsets, partial.timestamps, partial.origins, partial.features,
                strict=True)]


async def process_partials(events: Sequence[EventT]) -> int:
    """Apply a batch of partials; returns the events (rows) applied."""
    groups: dict[tuple[str, str], list[tuple[EventT, Partial]]] = {}
    for event in events:
        try:
            partial = Partial.decode(event.message.value or b"")
        except ValueError as exc:
            await send_dead_letter(event, str(exc), Reason.INVALID)
            continue
        if partial.offsets:
            groups.setdefault((partial.model, partial.version), []).append((event, partial))
    applied = 0
    for (model, version), items in groups.items():
        def make_step(chosen, model=model, version=version):  # type: ignore[no-untyped-def]
            return monitor_step(model, version, observations(chosen), monitor_config(model))

        done = await apply_and_publish(model, items, make_step, "feature reducer")
        applied += sum(len(partial.offsets) for _, partial in done)
    return applied


@app.on_partitions_revoked.connect
async def _staged_series_move(sender: Any, revoked: Iterable[TP], **kwargs: Any) -> None:
    forget_staged()  # the reducers of this worker's models may move with the partitions


@app.agent(feature_partials_topic, concurrency=1)
async def reduce_features(stream: faust.StreamT[bytes]) -> None:
    await process_batches(app, stream, "reduce_features", process_partials,
                          size=PARTIALS_PER_BATCH, within=settings.drift.batch_seconds,
                          enabled=settings.kafka.offset_guard)

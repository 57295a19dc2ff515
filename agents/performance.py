"""Performance monitor: windowed metrics on labelled predictions, drops, DDM."""

from __future__ import annotations

from functools import cache

import faust
from faust.types import EventT

from agents.monitoring import apply_and_publish, decode_batch
from drift.performance import DropRule
from faust_app import app, settings
from monitors.estimation import EstimationConfig
from monitors.performance import PerformanceConfig, PerformanceMonitor
from schemas.events import LabelledPredictionEvent
from streams.gaps import process_batches
from streams.topics import labelled_predictions_topic


@cache
def estimation_config() -> EstimationConfig | None:
    """Estimation without labels, shared by this agent (calibration) and the predictions
    agent (estimates); None when ``PERFORMANCE__ESTIMATE`` is off."""
    if not settings.performance.estimate:
        return None
    return EstimationConfig(app_id=settings.app_id, window_size=settings.performance.window_size,
                            calibration_size=settings.performance.calibration_size,
                            rule=drop_rule())


def drop_rule() -> DropRule:
    return DropRule(sigmas=settings.performance.band_sigmas,
                    min_drop=settings.performance.min_drop)


@cache
def performance_config(model: str) -> PerformanceConfig:
    return PerformanceConfig(
        app_id=settings.app_id, window_size=settings.performance.window_size,
        rule=drop_rule(), estimation=estimation_config(),
        recent_ids=max(2000, 4 * settings.drift.batch_size))


async def process_batch(events: list[EventT]) -> None:
    groups = await decode_batch(events, LabelledPredictionEvent)
    for (model, version), items in groups.items():
        def make_step(chosen, m=model, v=version):  # type: ignore[no-untyped-def]
            batch = [(e.message.offset, r) for e, r in chosen]
            return lambda store: PerformanceMonitor(store, performance_config(m)).apply(m, v, batch)

        await apply_and_publish(model, items, make_step, "performance monitor")


@app.agent(labelled_predictions_topic, concurrency=1)
async def monitor_performance(stream: faust.StreamT[bytes]) -> None:
    await process_batches(app, stream, "monitor_performance", process_batch,
                          size=settings.drift.batch_size, within=settings.drift.batch_seconds,
                          enabled=settings.kafka.offset_guard)

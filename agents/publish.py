"""Publishing what a batch produced, waiting until the broker has it.

Agents commit their table state only after this returns, so an output is never lost to a
crash between "state says done" and "event delivered" (see monitors/buffered.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import orjson
from faust.types import TopicT

from governance.alerts import render
from monitors.drift_monitor import MonitorOutput
from observability.metrics import DETECTOR_RESETS, STAGED_EVENTS, count_drift
from schemas.reasons import Reason
from streams.deadletters import send_dead_letter_for
from streams.topics import (
    alerts_topic,
    drift_events_topic,
    features_topic,
    performance_metrics_topic,
)

#: the (model, version) series of ``driftline_staged_events`` this process has set
STAGED_SERIES: set[tuple[str, str]] = set()


async def publish(topic: TopicT, key: bytes, values: list[bytes]) -> None:
    pending = [await topic.send(key=key, value=value) for value in values]
    if pending:
        await asyncio.gather(*pending)


async def publish_output(key: bytes, out: MonitorOutput) -> None:
    while out.quarantined:  # before the state that leaves them out is committed
        obs, version, error = out.quarantined[0]
        await send_dead_letter_for(
            topic=features_topic.get_topic_name(), partition=obs.partition, offset=obs.offset,
            key=key, value=orjson.dumps({
                "model_name": key.decode(errors="replace"), "model_version": version,
                "timestamp": obs.timestamp, "features": obs.features,
                "origin": list(obs.origin) if obs.origin is not None else None}, default=str),
            reason=("internal error in the feature monitor applying a staged event (the "
                    f"original is at this topic, partition and offset): {error}"),
            code=Reason.INTERNAL_ERROR)
        # sent: a retry of this publish (the broker refused a drift event) does not send it
        # again
        out.quarantined.pop(0)
    pending = []
    alerts = [render(signal) for signal in out.alerts]  # the text is governance's
    for topic, records in ((drift_events_topic, out.drift_events), (alerts_topic, alerts),
                           (performance_metrics_topic, out.metrics)):
        for record in records:
            pending.append(await topic.send(key=key, value=record.dumps()))
    if pending:
        await asyncio.gather(*pending)
    count_drift(out.drift_events)
    show_staged(out.staged)
    if out.detector_resets:
        DETECTOR_RESETS.inc(out.detector_resets)


def forget_staged() -> None:
    """Remove every ``driftline_staged_events`` series of this process: at a rebalance the
    reducers may move, and the new owner sets the series of the models it has."""
    for series in list(STAGED_SERIES):
        STAGED_EVENTS.remove(*series)
    STAGED_SERIES.clear()


def show_staged(staged: Mapping[tuple[str, str], int | None]) -> None:
    """Set ``driftline_staged_events`` per (model, version); a forgotten version's series
    is removed, so versions that come and go do not pile up series."""
    for series, count in staged.items():
        if count is not None:
            STAGED_EVENTS.labels(*series).set(count)
            STAGED_SERIES.add(series)
        elif series in STAGED_SERIES:
            STAGED_EVENTS.remove(*series)
            STAGED_SERIES.discard(series)

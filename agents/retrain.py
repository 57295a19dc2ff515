"""Retrain agent: fired drift events and manual triggers → retrain decisions (ledger in a
table) → requests, alerts.

Thin: the decisions are :class:`governance.ledger.RetrainPlanner`'s. Per batch and model it
reads the model's ledger state, decides, publishes every decision to ``retrain-requests`` and
an ``Alert`` for it to ``alerts``, and only then writes the new state — so a crash in between
replays the same triggers against the same state and republishes the same ids.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import faust
from faust.types import EventT

from agents.monitoring import reroute_to
from faust_app import app, settings
from governance.ledger import (
    LedgerState,
    RequestQueue,
    RetrainPlanner,
    RetrainRule,
    Trigger,
    as_trigger,
    manual_trigger,
)
from governance.messages import retrain_alert, retrain_request
from observability.metrics import RETRAIN_DECISIONS
from resilience.backpressure import hold
from schemas.events import DriftEvent, decode
from schemas.governance import RetrainTrigger
from schemas.spec import InvalidEvent
from streams.admin import kafka_transient
from streams.deadletters import send_dead_letter
from streams.gaps import process_batches
from streams.telemetry import use_event
from streams.topics import (
    alerts_topic,
    drift_events_topic,
    retrain_inputs_topic,
    retrain_requests_topic,
    retrain_triggers_topic,
)
from tables.feature_state import writing_for
from tables.governance import retrain_ledger

log = logging.getLogger(__name__)
LIMITS = settings.limits.for_events()
TRIGGERS_TOPIC = settings.kafka.topics.name("retrain_triggers")
_BASE = settings.retrain.model_dump(exclude={"overrides", "batch_size", "batch_seconds",
                                             "max_concurrent_jobs",
                                             "max_concurrent_jobs_per_model"})

#: the agent's clock; tests of the logic use the planner with a fake one instead
clock: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731


def rule_for(model: str) -> RetrainRule:
    return RetrainRule.from_values(_BASE, settings.retrain.override_values(model))


PLANNER = RetrainPlanner(settings.app_id, rule_for)


def ledger_key(model: str) -> bytes:
    return f"ledger|{model}".encode()


async def process_batch(events: Sequence[EventT]) -> int:
    """Decide on one batch; never raises on data. Returns the number of decisions."""
    by_model: dict[str, list[tuple[EventT, Trigger]]] = {}
    for event in events:
        manual = event.message.topic == TRIGGERS_TOPIC
        try:
            record = decode(event.message.value, RetrainTrigger if manual else DriftEvent, LIMITS)
        except InvalidEvent as exc:
            if manual:  # no sink reads this topic
                await send_dead_letter(event, exc.reason, exc.code)
            continue  # the drift-events sink dead-letters it; one letter per message is enough
        if event.message.key != record.model_name.encode():
            # one writer per ledger entry: only the partition of the model's key decides
            with use_event(event):
                await reroute_to(retrain_triggers_topic if manual else drift_events_topic,
                                 event, record.model_name)
            continue
        offset = event.message.offset
        trigger = (manual_trigger(record, offset=offset) if manual
                   else as_trigger(record, rule_for(record.model_name), offset=offset))
        if trigger is not None:
            by_model.setdefault(trigger.model_name, []).append((event, trigger))
    now = clock()
    queue = RequestQueue()
    pending_state: list[tuple[EventT, str, LedgerState]] = []
    published = 0
    for model, items in by_model.items():
        raw = retrain_ledger.get(ledger_key(model))
        state = LedgerState.decode(raw) if raw is not None else LedgerState(model=model)
        decisions, state = PLANNER.decide([t for _, t in items], state, now)
        registered = settings.mlflow.registered_name(model)
        for decision in decisions:
            queue.push(decision.trigger, retrain_request(decision, registered, now))
        pending_state.append((items[-1][0], model, state))
    trigger_of = {model: event for event, model, _ in pending_state}
    requests = queue.drain()  # most urgent first, across models

    async def send_all() -> None:
        delivered = []
        for request in requests:
            key = request.model_name.encode()
            with use_event(trigger_of.get(request.model_name)):
                delivered.append(await retrain_requests_topic.send(key=key, value=request.dumps()))
                delivered.append(await alerts_topic.send(key=key,
                                                         value=retrain_alert(request).dumps()))
        await asyncio.gather(*delivered)

    # the ledger moves on only once its decisions are on the broker (see monitors/buffered.py);
    # a broker outage holds the batch, and a retry re-sends the same ids
    await hold("kafka", send_all, transient=kafka_transient, agent="plan_retraining")
    for request in requests:
        log.info("retrain %s for %s: %s", request.decision, request.model_name, request.reason)
        RETRAIN_DECISIONS.labels(request.decision).inc()
        published += 1
    for event, model, state in pending_state:
        with writing_for(event):
            retrain_ledger[ledger_key(model)] = state.encode()
    return published


@app.agent(retrain_inputs_topic, concurrency=1)
async def plan_retraining(stream: faust.StreamT[bytes]) -> None:
    # behind the offset guard like the monitors: the ledger skips triggers by offset, so a
    # partition that skipped offsets would lose them for good
    await process_batches(app, stream, "plan_retraining", process_batch,
                          size=settings.retrain.batch_size,
                          within=settings.retrain.batch_seconds,
                          enabled=settings.kafka.offset_guard)

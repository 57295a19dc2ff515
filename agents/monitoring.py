"""What the monitoring agents share: per-model configuration, decoding into groups, and the
apply → publish → commit step that keeps state and outputs consistent."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any, TypeVar

from faust.types import EventT

import drift
from agents.publish import publish_output
from drift.hygiene import AlertPolicy
from faust_app import settings
from monitors.buffered import BufferedStore
from monitors.drift_monitor import FeatureMonitor, MonitorConfig, MonitorOutput, Observation
from monitors.versions import touch
from resilience.backpressure import hold
from schemas.events import Event, decode
from schemas.reasons import Reason
from schemas.spec import InvalidEvent
from streams.admin import kafka_transient
from streams.deadletters import send_dead_letter
from streams.shards import shard_partitions
from streams.telemetry import use_event, use_events
from tables.feature_state import TableStore

log = logging.getLogger(__name__)
LIMITS = settings.limits.for_events()
R = TypeVar("R", bound=Event)


@cache
def monitor_config(model: str, namespace: str = "f", kind: str = "data_drift",
                   metric_features: tuple[str, ...] = ()) -> MonitorConfig:
    options = settings.drift.for_model(model)
    features = namespace == "f"  # shards and sampling apply to feature events
    shards = options["shards"] if features else 1
    return MonitorConfig(
        shard_partitions=(shard_partitions(model, shards, settings.kafka.partitions)
                          if shards > 1 else frozenset()),
        sample_rate=options["sample_rate"] if features else 1.0,
        app_id=settings.app_id, namespace=namespace, kind=kind,
        reference_size=options["reference_size"], window_mode=options["window_mode"],
        window_size=options["window_size"], window_seconds=options["window_seconds"],
        allowed_lateness_seconds=options["allowed_lateness_seconds"],
        min_window_events=settings.drift.min_window_events, psi_bins=settings.drift.psi_bins,
        policy=drift.DriftPolicy(
            alpha=settings.drift.alpha, min_sample=settings.drift.min_window_events,
            default=drift.FeaturePolicy(min_psi=settings.drift.min_psi,
                                        min_distance=settings.drift.min_distance,
                                        min_missing_delta=settings.drift.min_missing_delta)),
        alert_policy=AlertPolicy(k=options["alert_k"], m=options["alert_m"]),
        detectors=tuple(options["detectors"]), metric_features=metric_features,
        detector_budget=settings.drift.detector_false_alarms_per_100k,
    )


#: what ``datetime.isoformat()`` writes for a UTC time with microseconds (a zero fraction it
#: leaves out, so ``.000000`` is not this form)
_CANONICAL_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.(?!000000)\d{6})?\+00:00")


def utc(timestamp: str) -> str:
    """One spelling per instant, so timestamps compare as strings."""
    if _CANONICAL_UTC.fullmatch(timestamp):  # validated already: it is its own spelling
        return timestamp
    return datetime.fromisoformat(timestamp).astimezone(UTC).isoformat()


#: Set on the copy of an event re-sent under its model's key: ``<partition>:<offset>`` of the
#: original, so a copy sent twice (the original redelivered after a crash) is counted once.
REROUTED_HEADER = "driftline-rerouted-from"


async def reroute_to(topic: Any, event: EventT, model: str, *, key: bytes | None = None,
                     partition: int | None = None) -> None:
    """Send an event keyed by something other than its model back to ``topic`` keyed right,
    so all of a model's events meet in one partition (and one worker's state) — or, for a
    sharded model, to its shard's ``partition``."""
    message = event.message
    log.info("re-keying event at %s[%s]@%s to %r", message.topic, message.partition,
             message.offset, model if partition is None else f"{model} shard partition {partition}")
    await topic.send(key=key or model.encode(), value=message.value, partition=partition,
                     headers=[(REROUTED_HEADER, f"{message.partition}:{message.offset}".encode())])


def origin_of(event: EventT) -> tuple[int, int] | None:
    """(partition, offset) of the original when ``event`` is a re-keyed copy, else None."""
    headers = event.message.headers or ()
    items = headers.items() if isinstance(headers, Mapping) else headers
    for name, value in items:
        if name == REROUTED_HEADER and value:
            text = value.decode() if isinstance(value, bytes | bytearray) else str(value)
            partition, _, offset = text.partition(":")
            try:
                return int(partition), int(offset)
            except ValueError:
                return None  # not ours: treat it as an ordinary event
    return None


X = TypeVar("X")
#: where a sharded model's event belongs: (key, partition), or None for an unsharded model
Placement = Callable[[Any], tuple[bytes, int] | None]


async def decode_batch(events: Sequence[EventT], record: type[R], rekey_to: Any = None,
                       prepare: Callable[[EventT, R], X] | None = None, *,
                       place: Placement | None = None, keep: Callable[[Any], bool] | None = None,
                       ) -> dict[tuple[str, str], list[tuple[EventT, Any]]]:
    """Validate a batch, dead-letter what fails, and group the rest by (model, version).

    ``prepare(event, record)`` turns each record into what the step needs; whatever it or
    the decoder raises costs that one message a dead letter, never the batch. With
    ``rekey_to`` (the topic being read), an event not keyed by its model is re-sent there
    under its model's key (:func:`reroute_to`) instead of being grouped here; with ``place``,
    an event of a sharded model is re-sent when it is not on its shard's partition. Events
    ``keep`` refuses (outside a model's sample) are left out."""
    groups: dict[tuple[str, str], list[tuple[EventT, Any]]] = {}
    for event in events:
        message = event.message
        # no coroutine per event: only a failure awaits (its dead letter)
        try:
            parsed = decode(message.value, record, LIMITS)
        except Exception as exc:  # noqa: BLE001 - one message must not stop the batch
            await _dead_letter(event, exc)
            continue
        if keep is not None and not keep(parsed):
            continue
        if rekey_to is not None:
            target = place(parsed) if place is not None else None
            if target is not None and message.partition != target[1]:
                with use_event(event):  # outside the guard: a broker error is not the event's
                    await reroute_to(rekey_to, event, parsed.model_name, key=target[0],
                                     partition=target[1])
                continue
            if target is None and message.key != parsed.model_name.encode():
                with use_event(event):
                    await reroute_to(rekey_to, event, parsed.model_name)
                continue
        value: Any = parsed
        if prepare is not None:
            try:
                value = prepare(event, parsed)
            except Exception as exc:  # noqa: BLE001 - one message must not stop the batch
                await _dead_letter(event, exc)
                continue
        groups.setdefault((parsed.model_name, parsed.model_version), []).append((event, value))
    return groups


async def _dead_letter(event: EventT, exc: Exception) -> None:
    """Dead-letter ``event`` for what decoding or preparing it raised: an
    :class:`InvalidEvent` with its reason, anything else as an internal error (logged)."""
    if isinstance(exc, InvalidEvent):
        await send_dead_letter(event, exc.reason, exc.code)
        return
    message = event.message
    log.error("decoding %s[%s]@%s failed", message.topic, message.partition, message.offset,
              exc_info=exc)
    await send_dead_letter(event, f"internal error while decoding: {exc!r}"[:1000],
                           Reason.INTERNAL_ERROR)


Out = TypeVar("Out")
Items = Sequence[tuple[EventT, Any]]


async def apply_and_publish(model: str, items: Items,
                            make_step: Callable[[Items], Callable[[BufferedStore], Out]],
                            what: str,
                            publish: Callable[[str, Out], Awaitable[None]] | None = None,
                            store_type: type[TableStore] = TableStore) -> list[Any]:
    """Run ``make_step(items)`` on buffered state, publish its output, then commit the state.

    A step that raises is retried one event at a time, so a poison event costs only itself a
    dead letter (``internal_error``) and the rest of the group is applied. Publishing waits
    out a broker outage (:func:`resilience.backpressure.hold`). When ``store_type`` has a
    ``lock`` (a table that several agents update), each apply → publish → commit runs under
    it. Returns the items that were applied (all of them, unless one was poison).
    """
    error = await _locked(model, items, make_step, what, publish, store_type)
    if error is None:
        return list(items)
    if len(items) == 1:
        await send_dead_letter(items[0][0], f"internal error in {what}: {error}",
                               Reason.INTERNAL_ERROR)
        return []
    applied = []
    for item in items:  # find the poison one(s); the others are applied in order
        error = await _locked(model, [item], make_step, what, publish, store_type)
        if error is None:
            applied.append(item)
        else:
            await send_dead_letter(item[0], f"internal error in {what}: {error}",
                                   Reason.INTERNAL_ERROR)
    return applied


async def _locked(model: str, items: Items, make_step: Callable[[Items], Any], what: str,
                  publish: Callable[[str, Any], Awaitable[None]] | None,
                  store_type: type[TableStore]) -> str | None:
    """None when applied, published and committed; else what went wrong."""
    lock: asyncio.Lock | None = getattr(store_type, "lock", None)
    if lock is None:
        return await _apply_and_publish(model, items, make_step, what, publish, store_type)
    async with lock:
        return await _apply_and_publish(model, items, make_step, what, publish, store_type)


async def _apply_and_publish(model: str, items: Items, make_step: Callable[[Items], Any],
                             what: str, publish: Callable[[str, Any], Awaitable[None]] | None,
                             store_type: type[TableStore]) -> str | None:
    store = BufferedStore(store_type(items[-1][0]))
    try:
        out = make_step(items)(store)
    except Exception as exc:
        log.exception("%s failed for %s on %d event(s)", what, model, len(items))
        return repr(exc)[:800]

    async def send() -> None:
        with use_events(event for event, _ in items):  # outputs join the last event's trace
            if publish is None:
                await publish_output(model.encode(), out)
            else:
                await publish(model, out)

    try:
        await hold("kafka", send, transient=kafka_transient, agent=what)
    except Exception as exc:  # an output the broker refuses (too large): a bug, not an outage
        log.exception("%s: publishing the output for %s failed", what, model)
        return f"publishing failed: {exc!r}"[:800]
    store.commit()
    return None


def monitor_step(model: str, version: str, observations: Sequence[Observation],
                 config: MonitorConfig) -> Callable[[BufferedStore], MonitorOutput]:
    """Expire old versions of ``model``, then apply ``observations`` to (model, version)."""
    ttl = timedelta(hours=settings.drift.version_ttl_hours)

    def step(store: BufferedStore) -> MonitorOutput:
        monitor = FeatureMonitor(store, config)
        newest = max(o.timestamp for o in observations)
        forgotten = []
        for old in touch(store, config.namespace, model, version, newest, ttl):
            log.info("forgetting %s version %s (no events for %s)", model, old, ttl)
            monitor.forget(model, old)
            forgotten.append(old)
        out = monitor.apply(model, version, observations)
        if config.namespace == "f":  # the staged-events gauge is the feature monitor's
            out.staged.update(((model, old), None) for old in forgotten)
        return out

    return step

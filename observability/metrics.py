"""The worker's Prometheus metrics, on one registry with faust's own sensor.

:func:`install` puts faust's Prometheus sensor (``setup_prometheus_sensors``, prefix
``driftline``: throughput, sends, committed and end offsets, rebalances) on :data:`REGISTRY`
and serves the lot at ``/metrics`` on the worker's web server (``WEB_PORT``). Counters here are
updated at the pipeline's choke points (batch handling, dead letters, publishing, the loop
agents' decisions); each update is a label lookup and an add, once per batch or decision.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from monitors.state import SEP, ModelHead
from schemas.governance import JOB_STATUSES, PROMOTION_DECISIONS
from schemas.governance import RETRAIN_DECISIONS as RETRAIN_DECISION_NAMES

if TYPE_CHECKING:
    import faust

    from observability.sensor import BatchedPrometheusMonitor

REGISTRY = CollectorRegistry()
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)
GCCollector(registry=REGISTRY)

#: seconds; a batch takes milliseconds to a few seconds (a window closing runs every test)
BATCH_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
#: seconds from a message's Kafka timestamp to the end of the batch that handled it
AGE_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 21600.0)

EVENTS_PROCESSED = Counter(
    "driftline_events_processed", "Events an agent finished handling (dead-lettered ones included).",
    ["agent", "topic"], registry=REGISTRY)
BATCH_DURATION = Histogram(
    "driftline_batch_duration_seconds", "Time an agent took for one batch: decode, state, publish.",
    ["agent"], buckets=BATCH_BUCKETS, registry=REGISTRY)
EVENT_AGE = Histogram(
    "driftline_event_age_seconds",
    "Age of a batch's oldest event (its Kafka timestamp) when the agent finished the batch.",
    ["agent"], buckets=AGE_BUCKETS, registry=REGISTRY)
DEAD_LETTERS = Counter(
    "driftline_dead_letters",
    "Messages sent to dead-letters, by source topic and reason code (schemas.reasons.Reason).",
    ["topic", "reason"], registry=REGISTRY)
DEPENDENCY_UP = Gauge(
    "driftline_dependency_up",
    "1 while the dependency answers, 0 while an agent holds its work waiting for it.",
    ["dependency"], registry=REGISTRY)
#: the dependencies an agent may wait for (the gauge has exactly these labels)
DEPENDENCIES = ("postgres", "mlflow", "trainer", "smtp", "kafka")
for _name in DEPENDENCIES:
    DEPENDENCY_UP.labels(_name).set(1)
BACKPRESSURE_WAITS = Counter(
    "driftline_backpressure_retries",
    "Retries of held work while a dependency is unavailable, by dependency and agent.",
    ["dependency", "agent"], registry=REGISTRY)
BATCH_REDELIVERIES = Counter(
    "driftline_batch_redeliveries",
    "Batches an agent failed on unexpectedly and sought back to process again.",
    ["agent"], registry=REGISTRY)
DETECTOR_RESETS = Counter(
    "driftline_detector_state_resets",
    "Online-detector states that could not be read (another format or River version) and "
    "were started afresh.", registry=REGISTRY)
RETRAIN_QUEUE = Gauge(
    "driftline_retrain_queue_depth", "Accepted retrain requests waiting for the trainer.",
    registry=REGISTRY)
STAGED_EVENTS = Gauge(
    "driftline_staged_events",
    "Events of a sharded model the reducer holds until every shard has been heard from past "
    "them (grows while one of its shards receives nothing).",
    ["model", "version"], registry=REGISTRY)
OFFSET_GAPS = Counter(
    "driftline_offset_gaps", "Times an agent saw a partition skip offsets, or end past what "
    "it received while it waited idle, and sought back.",
    ["agent", "topic"], registry=REGISTRY)
DRIFT_TESTS = Counter(
    "driftline_drift_tests", "Drift test results published (window tests and detector signals).",
    ["kind", "test"], registry=REGISTRY)
DRIFT_DETECTED = Counter(
    "driftline_drift_detected", "Drift test results that found drift, by kind and severity.",
    ["kind", "severity"], registry=REGISTRY)
RETRAIN_DECISIONS = Counter(
    "driftline_retrain_decisions", "Retrain decisions published, by decision.",
    ["decision"], registry=REGISTRY)
TRAINING_JOBS = Counter(
    "driftline_training_jobs", "Training job states published, by state.",
    ["state"], registry=REGISTRY)
PROMOTIONS = Counter(
    "driftline_promotion_decisions", "Promotion decisions published, by decision.",
    ["decision"], registry=REGISTRY)
CHANGELOG_BYTES = Counter(
    "driftline_changelog_bytes", "Bytes (key + value) the agents wrote to their tables' changelogs.",
    ["table"], registry=REGISTRY)
EMAILS = Counter(
    "driftline_emails", "Alert e-mails by outcome: sent, failed, deduplicated, rate_limited.",
    ["outcome"], registry=REGISTRY)

# A labelled counter appears at its first increment, as 1, and `increase()` cannot see a
# series go from absent to 1: the first failed job would never raise an alert. Known label
# values start at 0.
for _state in JOB_STATUSES:
    TRAINING_JOBS.labels(_state)
for _decision in RETRAIN_DECISION_NAMES:
    RETRAIN_DECISIONS.labels(_decision)
for _decision in PROMOTION_DECISIONS:
    PROMOTIONS.labels(_decision)


def agent_label(agent: Any) -> str:
    """The ``agent`` label of a faust agent: its function's name, without the module."""
    return str(agent.name).rsplit(".", 1)[-1]


def observe_batch(agent: str, topic: str, count: int, seconds: float, oldest: float) -> None:
    if _sensor is not None:
        _sensor.flush()  # faust's per-message series, summed since the last batch
    EVENTS_PROCESSED.labels(agent, topic).inc(count)
    BATCH_DURATION.labels(agent).observe(seconds)
    if oldest > 0:
        EVENT_AGE.labels(agent).observe(max(0.0, time.time() - oldest))


def count_drift(events: Iterable[Any]) -> None:
    """Count published drift events (``DriftEvent``: kind, test, drifted, severity)."""
    for event in events:
        DRIFT_TESTS.labels(event.kind, event.test).inc()
        if event.drifted:
            DRIFT_DETECTED.labels(event.kind, event.severity).inc()


class ConsumerLag(Collector):
    """``driftline_consumer_lag``: per assigned partition, the broker's end offset (as the
    consumer last saw it) minus the group's committed offset, read at scrape time."""

    def __init__(self, app: faust.App) -> None:
        self.app = app

    def describe(self) -> list[GaugeMetricFamily]:
        return [self._family()]

    @staticmethod
    def _family() -> GaugeMetricFamily:
        return GaugeMetricFamily("driftline_consumer_lag",
                                 "Messages not yet processed and committed, per topic partition.",
                                 labels=["topic", "partition"])

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = self._family()
        try:
            consumer = self.app.consumer
            committed = dict(self.app.monitor.tp_committed_offsets or {})
            assigned = consumer.assignment()
        except Exception:  # not started yet, or rebalancing: nothing to say
            assigned, committed = set(), {}
        for tp in sorted(assigned):
            offset = committed.get(tp)
            if offset is None:
                continue  # changelogs, and partitions that have committed nothing yet
            try:
                end = consumer.highwater(tp)
            except Exception:  # noqa: S112 - revoked between assignment() and now
                continue
            if end is not None:
                family.add_metric([tp.topic, str(tp.partition)], max(0, end - offset))
        yield family


class DriftAlerts(Collector):
    """``driftline_drift_alerts_active{model, version, kind}``: how many features of a
    monitored (model, version) have their k-of-m drift alert active, read at scrape time
    from the monitors' heads in the table partitions this worker owns.

    Read from the table rather than set by the agents, so a restarted worker reports the
    state it recovered, and after a rebalance only the new owner reports a model (a
    standby replica or a revoked partition's leftovers never do).
    """

    NAME = "driftline_drift_alerts_active"
    #: a head key's namespace -> the kind of drift its monitor tests (agents/monitoring.py)
    KINDS = {"f": "data_drift", "p": "model_drift"}

    def __init__(self, app: faust.App, table: str = "feature-state") -> None:
        self.app = app
        self.table = table
        self._prefixes = tuple(f"{ns}h{SEP}".encode() for ns in self.KINDS)

    def describe(self) -> list[GaugeMetricFamily]:
        return [self._family()]

    @classmethod
    def _family(cls) -> GaugeMetricFamily:
        return GaugeMetricFamily(
            cls.NAME, "Features whose k-of-m drift alert is active, per monitored model version.",
            labels=["model", "version", "kind"])

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = self._family()
        try:
            table: Any = self.app.tables[self.table]  # a faust Table: a mapping of raw bytes
            changelog = table.changelog_topic.get_topic_name()
            owned = {tp.partition for tp in self.app.assignor.assigned_actives()
                     if tp.topic == changelog}
            heads = [(key, raw) for key, raw in table.items()
                     if isinstance(key, bytes) and key.startswith(self._prefixes) and raw]
        except Exception:  # no such table (not a worker), or not started: nothing to say
            heads = []
        for key, raw in heads:
            try:
                head = ModelHead.decode(raw)
            except Exception:  # noqa: S112 - one unreadable head must not hide the others
                continue
            if head.partition not in owned:
                continue
            active = sum(1 for _, is_active in head.hygiene.values() if is_active)
            kind = self.KINDS[key[:1].decode()]
            family.add_metric([head.model, head.version, kind], active)
        yield family


_installed: set[int] = set()
#: the installed app's sensor (observability/sensor.py), flushed once per batch
_sensor: BatchedPrometheusMonitor | None = None


def install(app: faust.App) -> None:
    """Serve :data:`REGISTRY` at ``/metrics`` with faust's sensor in it (once per app)."""
    if id(app) in _installed:
        return
    from faust.sensors.prometheus import setup_prometheus_sensors

    from observability.sensor import BatchedPrometheusMonitor

    global _sensor
    setup_prometheus_sensors(app, pattern="/metrics", registry=REGISTRY, name_prefix="driftline")
    # the same series, updated per batch instead of four times per message
    _sensor = app.monitor = BatchedPrometheusMonitor(
        metrics=app.monitor._metrics)  # type: ignore[attr-defined]  # noqa: SLF001

    @app.timer(interval=1.0)
    async def flush_sensor() -> None:  # agents flush per batch; this covers idle ones
        if _sensor is not None:
            _sensor.flush()

    # Like the job counters above: a histogram series born at its agent's first batch, with
    # that batch in it, shows no increase to rate() (the batch panel and quantiles would
    # miss a worker's first burst). Every agent's series start at 0 with the worker.
    for agent in app.agents.values():
        BATCH_DURATION.labels(agent_label(agent))
        EVENT_AGE.labels(agent_label(agent))
    REGISTRY.register(ConsumerLag(app))
    REGISTRY.register(DriftAlerts(app))
    _installed.add(id(app))

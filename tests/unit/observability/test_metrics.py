"""The worker's own metrics move at the choke points, with bounded labels."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import faust
import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from observability import metrics
from observability.metrics import REGISTRY
from schemas.events import FeatureEvent, decode
from schemas.reasons import Reason
from schemas.spec import InvalidEvent, Limits
from streams.telemetry import handling
from tests.unit.observability.conftest import events


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def reason_of(raw: bytes | None) -> str:
    with pytest.raises(InvalidEvent) as info:
        decode(raw, FeatureEvent, Limits(max_payload_bytes=1024))
    return info.value.reason


@pytest.mark.parametrize(("raw", "expected"), [
    (b"{not json", "not_json"),
    (None, "empty"),
    (b"[" + b"1," * 600 + b"1]", "too_large"),
    (b'{"event_id": "x"}', "invalid"),
    # a field value that mentions the database is still a schema problem
    (b'{"model_name": "database unavailable"}', "invalid"),
])
def test_decoding_failures_carry_a_reason_code(raw, expected):
    with pytest.raises(InvalidEvent) as info:
        decode(raw, FeatureEvent, Limits(max_payload_bytes=1024))
    assert info.value.code == expected


def test_every_reason_code_has_a_meaning():
    assert all(code.meaning for code in Reason)


def test_a_batch_is_counted_timed_and_aged():
    topic = "unit-metrics-features"
    before = value("driftline_batch_duration_seconds_count", agent="unknown")
    with handling(events(topic, [None] * 7)):
        pass
    with handling(events(topic, [None] * 3)):
        pass
    assert value("driftline_events_processed_total", agent="unknown", topic=topic) == 10
    assert value("driftline_batch_duration_seconds_count", agent="unknown") == before + 2
    assert value("driftline_event_age_seconds_bucket", agent="unknown", le="+Inf") >= 2


def test_drift_results_are_counted_by_kind_test_and_severity():
    def result(test: str, drifted: bool, severity: str = "none", kind: str = "model_drift"):
        return SimpleNamespace(kind=kind, test=test, drifted=drifted, severity=severity)

    ks = value("driftline_drift_tests_total", kind="model_drift", test="ks")
    high = value("driftline_drift_detected_total", kind="model_drift", severity="high")
    metrics.count_drift([result("ks", False), result("ks", True, "high"), result("chi2", True, "medium")])
    assert value("driftline_drift_tests_total", kind="model_drift", test="ks") == ks + 2
    assert value("driftline_drift_detected_total", kind="model_drift", severity="high") == high + 1
    assert value("driftline_drift_detected_total", kind="model_drift", severity="medium") >= 1


async def test_dead_letters_are_counted_by_source_topic_and_class(monkeypatch):
    from streams import deadletters

    sent = []

    async def fake_send(self, **kwargs):
        sent.append(kwargs)
        done = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    monkeypatch.setattr(faust.Topic, "send", fake_send)
    (event,) = events("unit-dl-features", [None])
    await deadletters.send_dead_letter(event, reason_of(b"{not json"), Reason.NOT_JSON)
    await deadletters.send_dead_letter(event, reason_of(b"{not json"), Reason.NOT_JSON)
    await deadletters.send_dead_letter(event, "internal error in x: y", Reason.INTERNAL_ERROR)
    assert value("driftline_dead_letters_total", topic="unit-dl-features", reason="not_json") == 2
    assert value("driftline_dead_letters_total", topic="unit-dl-features", reason="internal_error") == 1
    assert len(sent) == 3


def test_the_worker_registry_serves_faust_and_driftline_series():
    app = faust.App("obs-metrics-unit", broker="kafka://127.0.0.1:1")

    @app.agent(app.topic("unit-zero-in"))
    async def zero_agent(stream):  # pragma: no cover - never started
        async for _ in stream:
            pass

    metrics.install(app)
    metrics.install(app)  # idempotent: no duplicated series
    # rate() sees no increase in a series born with its first observation in it: a worker
    # that handles its first burst inside one scrape interval would show no batch times.
    # Every agent's start at 0 with the worker.
    for name in ("driftline_batch_duration_seconds_count", "driftline_event_age_seconds_count"):
        assert value(name, agent="zero_agent") == 0.0 and REGISTRY.get_sample_value(
            name, {"agent": "zero_agent"}) is not None, name
    assert isinstance(app.monitor, faust.sensors.prometheus.PrometheusMonitor)
    with handling(events("unit-exposition", [None])):
        pass
    families = {f.name: f for f in text_string_to_metric_families(generate_latest(REGISTRY).decode())}
    for name in ("driftline_messages_received_per_topic", "driftline_topic_partition_end_offset",
                 "driftline_events_processed", "driftline_dead_letters", "driftline_consumer_lag",
                 "process_cpu_seconds"):
        assert name in families, name
    assert families["driftline_consumer_lag"].samples == []  # not consuming: nothing to say

"""A real worker's /metrics, traces from ``driftline replay`` through the agents (exported over
OTLP/HTTP to a collector this test runs on loopback), and its JSON log lines."""

from __future__ import annotations

import contextlib
import gzip
import json
import socket
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from prometheus_client.parser import text_string_to_metric_families

from cli.traffic import TrafficSpec, feature_events
from tests.integration.conftest import produce, run_cli
from tests.integration.loop_support import now, seed_labelled
from tests.integration.test_governed_loop import (  # noqa: F401 - fixtures
    _write_csv,
    loop_env,
    tracking_uri,
    trainer,
)
from tests.synthetic import drift_event, labelled_rows

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def scrape(port: int) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:  # noqa: S310
        text = response.read().decode()
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def sample(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples: dict, name: str, **labels: str) -> float:
    """Sum over the series of ``name`` whose labels include ``labels``."""
    want = set(labels.items())
    return sum(v for (n, lab), v in samples.items() if n == name and want <= lab)


def wait_for(what: str, check: Callable[[], Any], timeout: float = 120.0) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def traffic(model: str, n: int) -> list[dict[str, Any]]:
    spec = TrafficSpec(model_name=model, numeric=("income", "age"), categorical=("channel",),
                       shifted=(), seed=5)
    return list(feature_events(spec, n))


def test_worker_metrics_move_when_events_flow(worker_factory, broker, unique):
    port = free_port()
    worker_factory(WEB_ENABLED="true", WEB_PORT=str(port),
                   DRIFT__REFERENCE_SIZE="40", DRIFT__WINDOW_SIZE="40")
    topic, model = f"{unique}-features", f"{unique}-model"
    before = scrape(port)
    assert total(before, "driftline_events_processed_total", topic=topic) == 0

    key = model.encode()
    good = [(key, orjson.dumps(e)) for e in traffic(model, 100)]
    bad = [(key, b"{not json"), (key, orjson.dumps({"event_id": "nope"})), (key, None)]
    produce(broker, topic, good + bad)

    def done() -> dict | None:
        now = scrape(port)
        ready = (sample(now, "driftline_events_processed_total", agent="monitor_features",
                        topic=topic) >= 103
                 and total(now, "driftline_dead_letters_total", topic=topic) >= 3
                 and total(now, "driftline_drift_tests_total", kind="data_drift") >= 3)
        return now if ready else None

    after = wait_for("103 events, 3 dead letters and one window's drift tests", done)
    time.sleep(2)  # anything more that was going to arrive has arrived
    after = scrape(port)
    # every event handled once, each malformed one dead-lettered with its coarse reason
    assert sample(after, "driftline_events_processed_total", agent="monitor_features", topic=topic) == 103
    assert sample(after, "driftline_dead_letters_total", topic=topic, reason="not_json") == 1
    assert sample(after, "driftline_dead_letters_total", topic=topic, reason="invalid") == 1
    assert sample(after, "driftline_dead_letters_total", topic=topic, reason="empty") == 1
    # reference = events 0..39, one window [40, 80) closed: a KS test per numeric feature,
    # a chi² for the categorical one
    assert sample(after, "driftline_drift_tests_total", kind="data_drift", test="ks") == 2
    assert sample(after, "driftline_drift_tests_total", kind="data_drift", test="chi2") == 1
    assert total(after, "driftline_drift_detected_total", kind="data_drift") <= 3
    # the dead letters and drift events were handled downstream too
    assert sample(after, "driftline_events_processed_total", agent="store_dead_letters",
                  topic=f"{unique}-dead-letters") == 3
    assert total(after, "driftline_events_processed_total", agent="store_drift_events") >= 3
    assert sample(after, "driftline_batch_duration_seconds_count", agent="monitor_features") >= 1
    assert sample(after, "driftline_event_age_seconds_count", agent="monitor_features") >= 1
    # faust's sensor, which the dashboard's throughput and lag panels read
    assert sample(after, "driftline_messages_received_per_topic_total", topic=topic) == 103
    assert total(after, "driftline_topic_partition_end_offset", topic=topic) == 103
    lag = {dict(labels)["partition"]: v for (name, labels), v in after.items()
           if name == "driftline_consumer_lag" and dict(labels)["topic"] == topic}
    assert lag and all(v == 0 for v in lag.values()), lag


class Collector:
    """An OTLP/HTTP traces endpoint on loopback that keeps what it receives."""

    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                request = ExportTraceServiceRequest.FromString(body)
                collector.add(request)
                reply = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/traces"

    def add(self, request: ExportTraceServiceRequest) -> None:
        for resource_spans in request.resource_spans:
            resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            for scope in resource_spans.scope_spans:
                for span in scope.spans:
                    attributes = {a.key: getattr(a.value, a.value.WhichOneof("value"))
                                  for a in span.attributes}
                    with self.lock:
                        self.spans.append({
                            "name": span.name, "trace_id": span.trace_id.hex(),
                            "span_id": span.span_id.hex(), "parent": span.parent_span_id.hex(),
                            "attributes": attributes, "events": [e.name for e in span.events],
                            "component": resource.get("driftline.component"),
                            "service": resource.get("service.name")})

    def snapshot(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.spans)


@contextlib.contextmanager
def otlp_collector() -> Iterator[Collector]:
    collector = Collector()
    thread = threading.Thread(target=collector.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield collector
    finally:
        collector.server.shutdown()
        collector.server.server_close()


def test_a_replayed_event_is_traced_through_the_agents_and_logged_with_its_trace_id(
        worker_factory, base_env, unique, tmp_path: Path):
    topic, model = f"{unique}-features", f"{unique}-model"
    good = tmp_path / "good.jsonl"
    good.write_bytes(b"\n".join(orjson.dumps(e) for e in traffic(model, 100)) + b"\n")
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(orjson.dumps({"model_name": model, "oops": True}) + b"\n")

    with otlp_collector() as collector:
        traced = {"TRACING__ENABLED": "true", "TRACING__ENDPOINT": collector.url,
                  "OTEL_BSP_SCHEDULE_DELAY": "200"}
        worker = worker_factory(**traced, LOG_FORMAT="json", DRIFT__REFERENCE_SIZE="40",
                                DRIFT__WINDOW_SIZE="40")
        run_cli({**base_env, **traced}, "replay", str(good), "--topic", "features")
        run_cli({**base_env, **traced}, "replay", str(bad), "--topic", "features", "--raw")

        def by_agent(spans: list[dict], agent: str) -> list[dict]:
            return [s for s in spans if s["attributes"].get("driftline.agent") == agent]

        def complete() -> list[dict] | None:
            spans = collector.snapshot()
            ready = (len([s for s in spans if s["component"] == "replay"]) == 101
                     and len(by_agent(spans, "monitor_features")) == 101
                     and by_agent(spans, "store_drift_events") and by_agent(spans, "plan_retraining")
                     and by_agent(spans, "store_dead_letters"))
            return spans if ready else None

        spans = wait_for("spans from replay, the features agent and three downstream agents",
                         complete)

    replay = {s["span_id"]: s for s in spans if s["component"] == "replay"}
    assert all(s["name"] == f"send {topic}" and s["parent"] == "" for s in replay.values())
    assert len({s["trace_id"] for s in replay.values()}) == 101  # a trace per line
    # the features agent: a child span of each line's replay span, in the same trace
    features = {s["span_id"]: s for s in by_agent(spans, "monitor_features")}
    assert all(s["component"] == "worker" and s["service"] == "driftline" for s in features.values())
    for span in features.values():
        parent = replay[span["parent"]]
        assert span["trace_id"] == parent["trace_id"]
        assert span["name"] == f"process {topic}"
    assert len({s["parent"] for s in features.values()}) == 101
    # downstream: drift events sunk to PostgreSQL and read by the retrain agent continue the
    # trace of the features span whose batch produced them
    for agent in ("store_drift_events", "plan_retraining"):
        for span in by_agent(spans, agent):
            parent = features[span["parent"]]
            assert span["trace_id"] == parent["trace_id"]
            assert span["name"] == f"process {unique}-drift-events"
    # the malformed line: dead-lettered in its own trace, and the dead letter sink continues it
    (bad_features,) = [f for f in features.values() if "dead letter" in f["events"]]
    bad_root = replay[bad_features["parent"]]
    (letter,) = by_agent(spans, "store_dead_letters")
    assert letter["parent"] == bad_features["span_id"] and letter["trace_id"] == bad_root["trace_id"]

    # the worker's log: JSON lines only; the dead letter's warning carries its trace
    lines = [json.loads(line) for line in worker.output().splitlines() if line.strip()]
    assert any(d["message"] == "[^Worker]: Ready" for d in lines)
    assert all({"timestamp", "level", "logger", "message"} <= set(d) for d in lines)
    (warning,) = [d for d in lines if d["message"].startswith(f"dead letter {topic}")]
    assert warning["level"] == "WARNING" and warning["trace_id"] == bad_root["trace_id"]
    assert warning["span_id"] == bad_features["span_id"]


def test_the_governed_loop_carries_the_trace_into_the_trainer_and_mlflow(
        unique, loop_env, trainer, worker_factory, engine, tmp_path: Path):  # noqa: F811
    model = f"{unique}-model"
    end = now() - timedelta(minutes=1)
    old = list(labelled_rows(model, 400, relation="original", seed=1, end=end - timedelta(days=30)))
    _write_csv(tmp_path / "old.csv", old)
    run_cli(loop_env, "model", "bootstrap", model, "--from", str(tmp_path / "old.csv"))
    seed_labelled(engine, labelled_rows(model, 600, relation="flipped", seed=2, end=end))
    drift = tmp_path / "drift.jsonl"
    drift.write_bytes(b"\n".join(drift_event(model, feature, severity="high", when=now()).dumps()
                                 for feature in ("x1", "x2", "region")) + b"\n")

    with otlp_collector() as collector:
        traced = {"TRACING__ENABLED": "true", "TRACING__ENDPOINT": collector.url,
                  "OTEL_BSP_SCHEDULE_DELAY": "200"}
        worker_factory(**{**loop_env, **traced, "TRAINER__URL": trainer.url})
        run_cli({**loop_env, **traced}, "replay", str(drift), "--topic", "drift-events", "--raw")

        def complete() -> list[dict] | None:
            spans = collector.snapshot()
            names = {s["name"] for s in spans}
            done = ({"mlflow promote", f"process {unique}-promotion-events"} <= names
                    and sum(s["name"] == "smtp send" for s in spans) >= 2)
            return spans if done else None

        spans = wait_for("the loop's spans, from drift event to promotion and mail", complete,
                         timeout=240)

    by_id = {s["span_id"]: s for s in spans}
    roots = {s["span_id"] for s in spans if s["component"] == "replay" and s["parent"] == ""}
    assert len(roots) == 3

    def root_of(span: dict) -> str | None:
        while span["parent"]:
            if span["parent"] not in by_id:
                return None
            span = by_id[span["parent"]]
        return span["span_id"]

    promote = next(s for s in spans if s["name"] == "mlflow promote")
    trace_id = promote["trace_id"]
    in_trace = [s for s in spans if s["trace_id"] == trace_id]
    # one unbroken chain: every span of that trace leads back to a replayed line
    assert all(root_of(s) in roots for s in in_trace), [(s["name"], s["parent"]) for s in in_trace]
    names = {(s["attributes"].get("driftline.agent"), s["name"]) for s in in_trace}
    for agent, topic in (("plan_retraining", "drift-events"), ("schedule_training", "retrain-requests"),
                         ("promote_candidates", "training-jobs"),
                         ("store_promotion_events", "promotion-events"), ("notify", "alerts")):
        assert (agent, f"process {unique}-{topic}") in names, (agent, sorted(names, key=str))
    plain = {name for _, name in names}
    # HTTP to the training service (submit, then the timer's polls), MLflow, SMTP
    assert {"POST /jobs", "GET /jobs/{job_id}", "mlflow load model", "mlflow alias",
            "smtp send"} <= plain, sorted(plain)
    post = next(s for s in in_trace if s["name"] == "POST /jobs")
    assert by_id[post["parent"]]["attributes"]["driftline.agent"] == "schedule_training"
    assert post["attributes"]["http.response.status_code"] in (200, 201, 202)

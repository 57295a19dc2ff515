"""Trace context in Kafka headers and HTTP calls; and tracing off costs nothing."""

from __future__ import annotations

import faust
import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import Tracer, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanContext, TraceFlags, TraceState

from cli.replay import line_trace
from integrations.trainer import TrainerClient
from observability import tracing
from settings import TracingSettings
from streams.telemetry import TracedTopic, handling, use_event, use_events
from tests.unit.observability.conftest import CountingMessage, FakeEvent, events

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def _ids(ctx) -> tuple[int, int]:
    sc = trace.get_current_span(ctx).get_span_context()
    return sc.trace_id, sc.span_id


def test_headers_round_trip_the_active_span(spans):
    with tracing.span("parent") as parent:
        headers = tracing.inject([("driftline-rerouted-from", b"0:1"), ("traceparent", b"stale")])
    names = [k for k, _ in headers]
    assert names.count("traceparent") == 1 and "driftline-rerouted-from" in names
    assert all(isinstance(v, bytes) for _, v in headers)
    ctx = tracing.extract(headers)
    assert ctx is not None
    assert _ids(ctx) == (parent.get_span_context().trace_id, parent.get_span_context().span_id)


def test_tracestate_and_mapping_headers_round_trip(spans):
    remote = SpanContext(trace_id=0x0AF7651916CD43DD8448EB211C80319C, span_id=0xB7AD6B7169203331,
                         is_remote=True, trace_flags=TraceFlags(1),
                         trace_state=TraceState([("vendor", "abc")]))
    with tracing.activate(trace.NonRecordingSpan(remote)):
        headers = dict(tracing.inject({"x": b"1"}))
    assert headers["x"] == b"1"
    assert headers["traceparent"] == TRACEPARENT.encode()
    assert headers["tracestate"] == b"vendor=abc"
    ctx = tracing.extract(headers)
    assert trace.get_current_span(ctx).get_span_context().trace_state.get("vendor") == "abc"


@pytest.mark.parametrize("headers", [None, [], [("traceparent", b"garbage")], {"other": b"x"}])
def test_headers_without_a_valid_context_extract_to_none(headers):
    assert tracing.extract(headers) is None


def test_no_active_span_injects_nothing(spans):
    original = [("a", b"1")]
    assert tracing.inject(original) is original
    assert tracing.carrier() == {}


def test_replay_starts_one_root_span_per_line_and_sends_its_context(spans):
    with line_trace("features", 7) as headers:
        pass
    (root,) = spans.get_finished_spans()
    assert root.name == "send features" and root.parent is None
    assert root.kind is trace.SpanKind.PRODUCER and root.attributes["driftline.replay.line"] == 7
    assert _ids(tracing.extract(headers)) == (root.context.trace_id, root.context.span_id)
    with line_trace("features", 8) as second:
        pass
    assert _ids(tracing.extract(second))[0] != root.context.trace_id  # a trace per line


@pytest.fixture
def sent(monkeypatch):
    """What faust would send: TracedTopic's super().send records instead of producing."""
    calls: list[dict] = []

    async def fake_send(self, **kwargs):
        calls.append({"topic": self.get_topic_name(), **kwargs})

    monkeypatch.setattr(faust.Topic, "send", fake_send)
    return calls


async def test_agents_continue_the_replay_trace_from_topic_to_topic(spans, sent):
    app = faust.App("obs-unit", broker="kafka://127.0.0.1:1")
    drift_events = TracedTopic(app, topics=["drift-events"], value_type=bytes)
    with line_trace("features", 1) as first, line_trace("features", 2) as second:
        pass
    replay = {s.attributes["driftline.replay.line"]: s for s in spans.get_finished_spans()}
    batch = events("features", [first, None, second])  # one event came without a trace

    with handling(batch):  # the features agent's batch
        with use_event(batch[0]):
            await drift_events.send(key=b"m", value=b"{}")
        with use_event(batch[1]):
            await drift_events.send(key=b"m", value=b"{}", headers=[("x", b"1")])
        await drift_events.send(key=b"m", value=b"{}")  # by default: the last traced event
        with use_events([batch[0], batch[1]]):  # a group's outputs: its last traced event's
            await drift_events.send(key=b"m", value=b"{}")

    features = {s.attributes["messaging.kafka.offset"]: s for s in spans.get_finished_spans()
                if s.name == "process features"}
    assert set(features) == {0, 2}  # a child span per traced event, none for the untraced one
    for offset, line in ((0, 1), (2, 2)):
        span, parent = features[offset], replay[line]
        assert span.context.trace_id == parent.context.trace_id
        assert span.parent.span_id == parent.context.span_id
        assert span.kind is trace.SpanKind.CONSUMER
    assert _ids(tracing.extract(sent[0]["headers"])) == (features[0].context.trace_id,
                                                          features[0].context.span_id)
    assert sent[1]["headers"] == [("x", b"1")]  # the untraced event's output stays untraced
    assert _ids(tracing.extract(sent[2]["headers"]))[1] == features[2].context.span_id
    assert _ids(tracing.extract(sent[3]["headers"]))[1] == features[0].context.span_id

    downstream = events("drift-events", [sent[0]["headers"]])
    with handling(downstream):  # the drift-events sink, say
        pass
    (sink,) = [s for s in spans.get_finished_spans() if s.name == "process drift-events"]
    assert sink.context.trace_id == replay[1].context.trace_id
    assert sink.parent.span_id == features[0].context.span_id


async def test_a_failing_batch_marks_its_spans(spans):
    with line_trace("features", 1) as headers:
        pass
    with pytest.raises(RuntimeError), handling(events("features", [headers])):
        raise RuntimeError("boom")
    (span,) = [s for s in spans.get_finished_spans() if s.name == "process features"]
    assert span.status.status_code is trace.StatusCode.ERROR
    assert span.events and span.events[0].name == "exception"


def test_sampling_follows_the_ratio_and_the_parent():
    exporter = InMemorySpanExporter()
    tracing.configure(TracingSettings(enabled=True, sample_ratio=0.0), component="test",
                      exporter=exporter)
    try:
        with line_trace("features", 1) as headers:
            pass
        assert headers is not None
        assert int(dict(headers)["traceparent"].rsplit(b"-", 1)[1], 16) & 1 == 0  # not sampled
        with handling(events("features", [headers])):
            with tracing.span("inner"):
                pass
        assert exporter.get_finished_spans() == ()
    finally:
        tracing.shutdown()


async def test_trainer_calls_carry_the_context_in_a_client_span(spans):
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"job_id": "j1", "status": "queued"})

    async with TrainerClient("http://trainer.test", transport=httpx.MockTransport(answer),
                             retries=0) as client:
        with tracing.span("retrain request") as parent:
            await client.submit({"model_name": "m"}, idempotency_key="k1")
            await client.status("j1")
    assert seen[0].headers["Idempotency-Key"] == "k1"
    ctx = tracing.extract(list(seen[0].headers.items()))
    post = next(s for s in spans.get_finished_spans() if s.name == "POST /jobs")
    get = next(s for s in spans.get_finished_spans() if s.name == "GET /jobs/{job_id}")
    assert _ids(ctx) == (parent.get_span_context().trace_id, post.context.span_id)
    assert post.parent.span_id == parent.get_span_context().span_id
    assert post.kind is trace.SpanKind.CLIENT and post.attributes["http.response.status_code"] == 200
    assert get.attributes["url.full"] == "http://trainer.test/jobs/j1"


def test_mlflow_requests_carry_the_context(spans):
    from mlflow.tracking.request_header.registry import resolve_request_headers

    assert "traceparent" not in resolve_request_headers()  # no span active
    with tracing.span("promotion") as parent:
        headers = resolve_request_headers()
    assert _ids(tracing.extract(headers)) == (parent.get_span_context().trace_id,
                                              parent.get_span_context().span_id)


def test_traced_calls_get_a_span(spans):
    @tracing.traced("mlflow version")
    def version(name: str) -> str:
        assert trace.get_current_span().is_recording()
        return name

    assert version("m") == "m"
    assert [s.name for s in spans.get_finished_spans()] == ["mlflow version"]


async def test_tracing_off_costs_nothing(monkeypatch, sent):
    """Off: no span is started, no header is read or written, no propagator runs."""
    assert tracing.configure(TracingSettings(enabled=False), component="test") is False
    assert not tracing.enabled()

    def forbidden(*args, **kwargs):
        raise AssertionError("tracing is off, yet this ran")

    for target, name in ((Tracer, "start_span"), (Tracer, "start_as_current_span"),
                         (TracerProvider, "get_tracer"), (tracing.propagate, "extract"),
                         (tracing.propagate, "inject")):
        monkeypatch.setattr(target, name, forbidden)
    CountingMessage.reads = 0
    batch = [FakeEvent(CountingMessage(topic="features", offset=i, headers=[("traceparent",
                                                                              TRACEPARENT.encode())]))
             for i in range(50)]
    app = faust.App("obs-unit-off", broker="kafka://127.0.0.1:1")
    topic = TracedTopic(app, topics=["drift-events"], value_type=bytes)
    own = [("x", b"1")]

    with line_trace("features", 1) as headers:
        assert headers is None
    def untouchable():
        raise AssertionError("events read while tracing is off")
        yield

    with handling(batch):
        assert not trace.get_current_span().get_span_context().is_valid
        with use_event(batch[0]), use_events(untouchable()), tracing.span("inner") as inner:
            assert inner is None
            await topic.send(key=b"m", value=b"{}", headers=own)
    assert CountingMessage.reads == 0
    assert sent[0]["headers"] is own
    assert tracing.carrier() == {} and tracing.inject(own) is own
    assert tracing.resume({"traceparent": TRACEPARENT}) is tracing.NOTHING

"""API requests get SERVER spans that continue the caller's trace, and what the API publishes
to Kafka carries the request's context on to the agents."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from opentelemetry import trace

from api.metrics import HttpMetrics
from api.middleware import RequestContext
from api.publisher import EventPublisher
from observability import tracing
from settings import KafkaSettings

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


@pytest.fixture
def client():
    app = FastAPI()
    seen: dict[str, dict[str, str]] = {}

    @app.get("/models/{name}")
    def model(name: str) -> dict[str, str]:
        seen[name] = tracing.carrier()  # what a Kafka write or trainer call would carry
        return {"name": name}

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("boom")

    app.add_middleware(RequestContext, metrics=HttpMetrics(), audit=lambda entry: None,
                       redact=lambda value: value)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        test_client.seen = seen
        yield test_client


def _server(spans):
    return [s for s in spans.get_finished_spans() if s.kind is trace.SpanKind.SERVER]


def test_a_request_continues_the_callers_trace_named_by_route(spans, client):
    r = client.get("/models/fraud", headers={"traceparent": TRACEPARENT, "X-Request-ID": "r-1"})
    assert r.status_code == 200
    (span,) = _server(spans)
    assert span.name == "GET /models/{name}"  # the template: ids do not explode span names
    assert span.context.trace_id == 0x0AF7651916CD43DD8448EB211C80319C
    assert span.parent.span_id == 0xB7AD6B7169203331
    assert span.attributes["http.route"] == "/models/{name}"
    assert span.attributes["url.path"] == "/models/fraud"
    assert span.attributes["http.response.status_code"] == 200
    assert span.attributes["driftline.request_id"] == "r-1"
    # inside the handler the server span is current: its children and outputs join the trace
    inner = tracing.extract(client.seen["fraud"])
    assert trace.get_current_span(inner).get_span_context().span_id == span.context.span_id


def test_a_request_without_context_starts_a_trace_and_errors_mark_the_span(spans, client):
    client.get("/models/a")
    client.get("/models/b")
    assert client.get("/boom").status_code == 500
    assert client.get("/nowhere").status_code == 404
    by_name = {s.name: s for s in _server(spans)}
    first, second = [s for s in _server(spans) if s.name == "GET /models/{name}"]
    assert first.parent is None and first.context.trace_id != second.context.trace_id
    assert by_name["GET /boom"].status.status_code is trace.StatusCode.ERROR
    assert [e.name for e in by_name["GET /boom"].events] == ["exception"]
    assert by_name["GET <unmatched>"].attributes["http.response.status_code"] == 404
    assert by_name["GET <unmatched>"].status.status_code is trace.StatusCode.UNSET


def test_tracing_off_starts_no_span_and_sends_no_header(client):
    assert not tracing.enabled()
    client.get("/models/x", headers={"traceparent": TRACEPARENT})
    assert client.seen["x"] == {}


class _Producer:
    def __init__(self) -> None:
        self.sent: list[dict] = []

    async def send(self, topic, **kwargs):
        self.sent.append({"topic": topic, **kwargs})

        async def acked():
            return None

        return acked()


@pytest.mark.parametrize("in_a_span", [True, False])
async def test_the_publisher_sends_the_current_context(spans, monkeypatch, in_a_span):
    publisher = EventPublisher(KafkaSettings(broker="kafka://127.0.0.1:1"), timeout=5)
    producer = _Producer()

    async def started():
        return producer

    monkeypatch.setattr(publisher, "_started", started)
    publisher._topics = {"retrain-triggers"}  # noqa: SLF001 - no broker to create it on
    items = [("retrain-triggers", b"m", b"{}"), ("retrain-triggers", b"m", b"[]")]
    if in_a_span:
        with tracing.span("POST /retrain/requests") as request:
            await publisher.send(items)
        for record in producer.sent:
            ctx = tracing.extract(record["headers"])
            assert trace.get_current_span(ctx).get_span_context().span_id == \
                request.get_span_context().span_id
    else:  # tracing on, but no request span active: nothing to carry
        await publisher.send(items)
        assert [record["headers"] for record in producer.sent] == [None, None]
    assert [record["value"] for record in producer.sent] == [b"{}", b"[]"]

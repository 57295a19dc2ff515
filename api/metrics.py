"""The API's own Prometheus metrics, on a registry of its own (one per app instance)."""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)

#: label for requests no route matched (404s), so scanners cannot blow up cardinality
UNMATCHED = "<unmatched>"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

#: metric names as exposed (counters get ``_total``); the Grafana dashboard uses these
REQUESTS_TOTAL = "driftline_api_http_requests_total"
DURATION = "driftline_api_http_request_duration_seconds"
IN_PROGRESS = "driftline_api_http_requests_in_progress"


class HttpMetrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            REQUESTS_TOTAL.removesuffix("_total"), "HTTP requests by method, route template and status.",
            ["method", "route", "status"], registry=self.registry)
        self.duration = Histogram(
            DURATION, "HTTP request latency by method and route template, until the last byte.",
            ["method", "route"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.in_progress = Gauge(IN_PROGRESS, "HTTP requests being served.", registry=self.registry)
        ProcessCollector(registry=self.registry)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.duration.labels(method, route).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)

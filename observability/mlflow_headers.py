"""MLflow request headers carrying the current trace context.

Registered through the ``mlflow.request_header_provider`` entry point (pyproject.toml), so
every REST call the MLflow client makes while a driftline span is active carries
``traceparent``; with tracing off ``in_context`` is a flag check.
"""

from __future__ import annotations

from mlflow.tracking.request_header.abstract_request_header_provider import RequestHeaderProvider

from observability import tracing


class TraceContextHeaders(RequestHeaderProvider):
    def in_context(self) -> bool:
        return tracing.enabled()

    def request_headers(self) -> dict[str, str]:
        return tracing.carrier()

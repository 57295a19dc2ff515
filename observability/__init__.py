"""Metrics, traces and structured logs: the worker's ``/metrics``, OpenTelemetry spans that
follow an event through every agent, and JSON log lines carrying the trace id.

Modules: :mod:`observability.metrics` (Prometheus), :mod:`observability.tracing`
(OpenTelemetry, off unless ``TRACING__ENABLED``), :mod:`observability.logs` (``LOG_FORMAT``).
The faust glue — traced topics and the per-batch wrapper agents use — is in
:mod:`streams.telemetry`.
"""

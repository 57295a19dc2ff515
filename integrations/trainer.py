"""Client of the training service: submit (idempotent), poll, cancel.

Transient failures — connection errors, timeouts, 5xx and 429 (honouring ``Retry-After``) —
are retried a bounded number of times with jittered exponential backoff; a circuit breaker
makes calls fail fast while the service is down, so a dead trainer costs the stream little.
A 4xx other than 429 is the caller's mistake and is not retried.

The API (served by ``driftline trainer``)::

    POST /jobs              Idempotency-Key: <key>  {model_name, registered_model, ...} -> job
    GET  /jobs/{id}                                                                     -> job
    POST /jobs/{id}/cancel                                                              -> job
    GET  /health
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from observability import tracing
from resilience.retry import (
    Backoff,
    CircuitBreaker,
    CircuitOpen,
    Retry,
    retry_after_seconds,
)

log = logging.getLogger(__name__)

__all__ = ["CircuitOpen", "JobState", "TrainerClient", "TrainerRejected", "TrainerUnavailable"]


class TrainerUnavailable(RuntimeError):
    """The service did not answer usefully within the bounded retries."""

    def __init__(self, message: str, attempts: int) -> None:
        super().__init__(message)
        self.attempts = attempts


class TrainerRejected(RuntimeError):
    """The service refused the call (4xx other than 429): retrying will not help."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"training service answered {status}: {detail}")
        self.status = status


@dataclass(frozen=True)
class JobState:
    job_id: str
    status: str
    progress: float
    message: str
    candidate_version: str | None = None
    run_id: str | None = None
    metrics: dict[str, Any] | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> JobState:
        return cls(job_id=str(data["job_id"]), status=str(data["status"]),
                   progress=float(data.get("progress") or 0.0),
                   message=str(data.get("message") or ""),
                   candidate_version=(str(data["candidate_version"])
                                      if data.get("candidate_version") is not None else None),
                   run_id=data.get("run_id"), metrics=data.get("metrics"))


class TrainerClient:
    def __init__(self, base_url: str, *, timeout: float = 10.0, retries: int = 4,
                 backoff: Backoff | None = None, breaker: CircuitBreaker | None = None,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 rng: random.Random | None = None,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.retries = retries
        self.backoff = backoff or Backoff()
        self.breaker = breaker or CircuitBreaker("training service")
        self._sleep = sleep
        self._rng = rng
        self._client = httpx.AsyncClient(base_url=self.base_url, timeout=timeout,
                                         transport=transport)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> TrainerClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def submit(self, payload: Mapping[str, Any], idempotency_key: str) -> JobState:
        data = await self._call("POST", "/jobs", json=dict(payload),
                                headers={"Idempotency-Key": idempotency_key})
        return JobState.from_json(data)

    async def status(self, job_id: str) -> JobState:
        return JobState.from_json(await self._call("GET", f"/jobs/{job_id}"))

    async def cancel(self, job_id: str) -> JobState:
        return JobState.from_json(await self._call("POST", f"/jobs/{job_id}/cancel"))

    async def health(self) -> bool:
        try:
            await self._call("GET", "/health")
        except (TrainerUnavailable, TrainerRejected, CircuitOpen):
            return False
        return True

    async def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """One logical call (one client span): up to ``1 + retries`` attempts on transient
        failures, each carrying the trace context."""
        route = re.sub(r"^/jobs/[^/]+", "/jobs/{job_id}", path)
        with tracing.span(f"{method} {route}", kind=tracing.SpanKind.CLIENT, attributes={
                "http.request.method": method, "url.full": self.base_url + path,
                "http.route": route, "peer.service": "training-service"}) as span:
            kwargs["headers"] = tracing.inject(kwargs.get("headers"))
            body = await self._attempts(method, path, span, **kwargs)
        return body

    async def _attempts(self, method: str, path: str, span: Any, **kwargs: Any) -> dict[str, Any]:
        async def once() -> dict[str, Any]:
            self.breaker.before_call()  # raises CircuitOpen: no point hammering a dead service
            try:
                response = await self._client.request(method, path, **kwargs)
            except (httpx.TransportError, httpx.TimeoutException) as exc:
                self.breaker.record_failure()
                raise _Transient(f"{exc.__class__.__name__}: {exc}".strip(), None) from exc
            if span is not None:
                span.set_attribute("http.response.status_code", response.status_code)
            if response.status_code == 429 or response.status_code >= 500:
                self.breaker.record_failure()
                raise _Transient(f"HTTP {response.status_code}",
                                 retry_after_seconds(response.headers.get("Retry-After")))
            self.breaker.record_success()  # it answered; a 4xx means the request is wrong
            if response.status_code >= 400:
                raise TrainerRejected(response.status_code, response.text[:500])
            body: dict[str, Any] = response.json()
            return body

        def report(attempt: int, exc: BaseException, delay: float) -> None:
            log.warning("training service %s %s failed (%s); retry %d/%d in %.2fs",
                        method, path, exc, attempt, self.retries, delay)

        policy = Retry(self.backoff, attempts=self.retries + 1)
        try:
            return await policy.call_async(
                once, transient=lambda exc: isinstance(exc, _Transient), sleep=self._sleep,
                rng=self._rng, on_retry=report,
                wait_hint=lambda exc: exc.wait if isinstance(exc, _Transient) else None)
        except _Transient as exc:
            raise TrainerUnavailable(f"training service at {self.base_url} unavailable after "
                                     f"{self.retries + 1} attempt(s): {exc}",
                                     self.retries + 1) from None


class _Transient(Exception):
    """A failure worth another attempt; ``wait`` is what the service asked for."""

    def __init__(self, message: str, wait: float | None) -> None:
        super().__init__(message)
        self.wait = wait

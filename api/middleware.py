"""ASGI middleware: request ids, server spans, HTTP metrics, the audit trail and body-size
limits.

Plain ASGI rather than ``BaseHTTPMiddleware`` so streamed exports are not buffered and the
size limit can refuse a body before it is read.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import anyio
from fastapi import HTTPException
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.metrics import UNMATCHED, HttpMetrics
from observability import tracing

log = logging.getLogger(__name__)
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
AuditFn = Callable[[dict[str, Any]], None]


def _request_id(headers: Headers) -> str:
    given = headers.get("x-request-id", "")
    return given if _REQUEST_ID.match(given) else uuid.uuid4().hex


class RequestContext:
    """Gives every request an id, times it, counts it and audits it if it mutates.

    Audit rows are written for every mutating request whatever its outcome, failures and
    refusals included; who made it comes from the principal the auth dependency leaves in
    the request state (``anonymous`` when authentication failed).
    """

    def __init__(self, app: ASGIApp, *, metrics: HttpMetrics, audit: AuditFn,
                 redact: Callable[[Any], Any]) -> None:
        self.app, self.metrics, self.audit, self.redact = app, metrics, audit, redact

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = _request_id(Headers(scope=scope))
        state = scope.setdefault("state", {})
        state["request_id"] = rid
        started, began = datetime.now(UTC), time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message).append("X-Request-ID", rid)
            await send(message)

        span = _server_span(scope, rid)
        self.metrics.in_progress.inc()
        try:
            with tracing.activate(span) if span is not None else tracing.NOTHING:
                await self.app(scope, receive, send_with_id)
        except Exception as exc:
            status = 500
            if span is not None:
                span.record_exception(exc)
            raise
        finally:
            self.metrics.in_progress.dec()
            elapsed = time.perf_counter() - began
            route = getattr(scope.get("route"), "path", None)
            self.metrics.observe(scope["method"], route or UNMATCHED, status, elapsed)
            if span is not None:
                _end_server_span(span, scope["method"], route, status)
            if scope["method"] in MUTATING:
                await self._audit(scope, state, rid, started, route, status, elapsed)

    async def _audit(self, scope: Scope, state: dict[str, Any], rid: str, started: datetime,
                     route: str | None, status: int, elapsed: float) -> None:
        principal = state.get("principal")
        path = scope["path"][:512]
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        details: dict[str, Any] = {}
        if query:
            details["query"] = query
        if state.get("audit_details"):
            details.update(state["audit_details"])
        entry = {
            "timestamp": started,
            "request_id": rid,
            "actor": principal.name if principal else "anonymous",
            "key_id": uuid.UUID(principal.key_id) if principal else None,
            "role": principal.role if principal else None,
            "method": scope["method"],
            "path": path,
            "action": f"{scope['method']} {route or path}"[:256],
            "status_code": status,
            "client": (scope.get("client") or (None,))[0],
            "duration_ms": round(elapsed * 1000, 3),
            "details": self.redact(json.loads(json.dumps(details, default=str))) or None,
        }
        try:
            await anyio.to_thread.run_sync(self.audit, entry)
        except Exception:  # the call itself is over; a lost audit row must at least be loud
            log.exception("audit entry not written: %s", {k: entry[k] for k in
                                                          ("request_id", "actor", "action")})


def _server_span(scope: Scope, rid: str) -> Any:
    """A SERVER span for the request (None when tracing is off), continuing the caller's
    trace when the request carries ``traceparent``. Everything the request does — Kafka
    writes, calls to the trainer — becomes its child."""
    if not tracing.enabled():
        return None
    return tracing.start_span(
        f"{scope['method']} {UNMATCHED}", parent=tracing.extract(Headers(scope=scope)),
        kind=tracing.SpanKind.SERVER,
        attributes={"http.request.method": scope["method"], "url.path": scope["path"][:512],
                    "url.scheme": scope.get("scheme", "http"), "driftline.request_id": rid})


def _end_server_span(span: Any, method: str, route: str | None, status: int) -> None:
    # named by route template, not path: ids in paths would make every span name unique
    span.update_name(f"{method} {route or UNMATCHED}")
    if route:
        span.set_attribute("http.route", route)
    span.set_attribute("http.response.status_code", status)
    if status >= 500:
        span.set_status(tracing.Status(tracing.StatusCode.ERROR, f"HTTP {status}"))
    span.end()


class BodySizeLimit:
    """413 for bodies over the limit: refused on Content-Length, or cut off while streaming.

    Multipart uploads get their own, larger limit.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int, max_upload_bytes: int) -> None:
        self.app, self.max_bytes, self.max_upload_bytes = app, max_bytes, max_upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        upload = headers.get("content-type", "").startswith("multipart/form-data")
        limit = self.max_upload_bytes if upload else self.max_bytes
        declared = headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _too_large(scope, send, limit)
            return
        seen = 0

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    # HTTPException passes through FastAPI's body parsing as itself.
                    raise HTTPException(413, f"request body larger than {limit} bytes")
            return message

        await self.app(scope, counting_receive, send)


async def _too_large(scope: Scope, send: Send, limit: int) -> None:
    rid = scope.get("state", {}).get("request_id")
    body = json.dumps({"detail": f"request body larger than {limit} bytes",
                       "request_id": rid}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})

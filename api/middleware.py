"""ASGI middleware: request ids, server spans, HTTP metrics, edge checks, the audit trail,
body-size limits and JSON body checks.

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
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import anyio
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


def _location_relative(headers: MutableHeaders) -> None:
    """Redirects name a path, never a host: Starlette builds an absolute URL from the Host
    header (trailing-slash redirects), which a client controls."""
    location = headers.get("location")
    if location:
        parts = urlsplit(location)
        if parts.scheme or parts.netloc:
            headers["location"] = urlunsplit(("", "", parts.path or "/", parts.query, parts.fragment))


def _has_nul(scope: Scope) -> bool:
    return "\x00" in scope["path"] or any(
        "\x00" in k or "\x00" in v
        for k, v in parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True))


class RequestContext:
    """Gives every request an id, times it, counts it and traces it; refuses at the edge
    what no route may see (NUL in the path or query, which PostgreSQL cannot even record).

    ``audit`` writes one finished entry (built by :class:`AuditTrail`) for mutating
    requests refused here.
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
                headers = MutableHeaders(scope=message)
                headers.append("X-Request-ID", rid)
                if 300 <= status < 400:
                    _location_relative(headers)
            await send(message)

        span = _server_span(scope, rid)
        self.metrics.in_progress.inc()
        try:
            with tracing.activate(span) if span is not None else tracing.NOTHING:
                if _has_nul(scope):
                    await refuse(scope, send_with_id, 400, "NUL characters are not allowed in the "
                                 "path or query string")
                    if scope["method"] in MUTATING:
                        entry = audit_entry(scope, self.redact, status=400, started=started,
                                            elapsed=time.perf_counter() - began)
                        await _quietly(self.audit, entry)
                else:
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


async def _quietly(audit: AuditFn, entry: dict[str, Any]) -> None:
    """Record a refusal; nothing changed, so a lost row is logged, not fatal."""
    try:
        await anyio.to_thread.run_sync(audit, entry)
    except Exception:
        log.exception("audit entry not written: %s", {k: entry[k] for k in
                                                      ("request_id", "actor", "action")})


#: query parameters whose values are credentials: never stored, whatever their case
SECRET_PARAMS = frozenset({"api_key", "apikey", "x-api-key", "key", "token", "access_token",
                           "refresh_token", "id_token", "auth", "authorization", "password",
                           "passwd", "secret", "client_secret", "signature", "sig", "session"})
REDACTED = "[redacted]"


def audited_query(scope: Scope, redact: Callable[[Any], Any]) -> dict[str, Any]:
    """The query string as the audit log keeps it: credentials replaced, configured PII
    pseudonymised."""
    query = {k: (REDACTED if k.lower() in SECRET_PARAMS else v)
             for k, v in parse_qsl(scope.get("query_string", b"").decode("latin-1"),
                                   keep_blank_values=True)}
    return redact(query) if query else {}


def audit_entry(scope: Scope, redact: Callable[[Any], Any], *, status: int, started: datetime,
                elapsed: float, details: dict[str, Any] | None = None) -> dict[str, Any]:
    """The audit entry of the request in ``scope`` (its principal, if any, in its state)."""
    state = scope.get("state", {})
    principal = state.get("principal")
    route = getattr(scope.get("route"), "path", None)
    path = scope["path"][:512]
    merged: dict[str, Any] = {}
    query = audited_query(scope, redact)
    if query:
        merged["query"] = query
    if details:
        merged.update(redact(json.loads(json.dumps(details, default=str))))
    return {
        "timestamp": started,
        "request_id": state.get("request_id") or uuid.uuid4().hex,
        "actor": principal.name if principal else "anonymous",
        "key_id": uuid.UUID(principal.key_id) if principal else None,
        "role": principal.role if principal else None,
        "method": scope["method"],
        "path": path,
        "action": f"{scope['method']} {route or path}"[:256],
        "status_code": status,
        "client": (scope.get("client") or (None,))[0],
        "duration_ms": round(elapsed * 1000, 3),
        "details": merged or None,
    }


class AuditUnavailable(RuntimeError):
    """The audit row of a mutation could not be written, so the mutation must not run."""


class AuditTrail:
    """Audits every mutating request that reaches the routes, in two steps: a ``pending``
    row before the route runs (if it cannot be written the route does not run: 503), and
    the outcome after, failures and refusals included. What the route adds to
    ``request.state.audit_details`` goes in the row's details."""

    def __init__(self, app: ASGIApp, *, begin: Callable[[dict[str, Any]], Any],
                 finish: Callable[..., None], redact: Callable[[Any], Any]) -> None:
        self.app, self.begin, self.finish, self.redact = app, begin, finish, redact

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in MUTATING:
            await self.app(scope, receive, send)
            return
        started, began = datetime.now(UTC), time.perf_counter()
        try:
            handle = await anyio.to_thread.run_sync(
                self.begin, audit_entry(scope, self.redact, status=0, started=started, elapsed=0.0))
        except Exception:
            log.exception("audit log unavailable; %s %s refused", scope["method"], scope["path"][:200])
            await refuse(scope, send, 503, "the audit log is unavailable; nothing was changed")
            return
        status = 500

        async def watching(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watching)
        finally:
            state = scope.get("state", {})
            entry = audit_entry(scope, self.redact, status=status, started=started,
                                elapsed=time.perf_counter() - began,
                                details=state.get("audit_details"))
            try:
                await anyio.to_thread.run_sync(lambda: self.finish(
                    handle, status=status, duration_ms=entry["duration_ms"],
                    details=entry["details"], action=entry["action"]))
            except Exception:  # the row says "pending": the call was made, its end unknown
                log.exception("audit outcome not written: %s",
                              {k: entry[k] for k in ("request_id", "actor", "action")})


async def refuse(scope: Scope, send: Send, status: int, detail: str,
                 headers: dict[str, str] | None = None) -> None:
    """Answer ``status`` with the API's error body, before any route (or body) is read."""
    rid = scope.get("state", {}).get("request_id")
    body = json.dumps({"detail": detail, "request_id": rid}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


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

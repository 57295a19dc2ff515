"""Who is calling, decided before anything else reads the request.

Authentication runs here, ahead of routing and body parsing, so a request without a valid
key gets 401 whatever its body (not a 422 that tells a stranger what the route expects).
Two kinds of token bucket guard it:

- per client address, spent by every request that has no valid key — anonymous calls
  (``/health/ready`` included) and failed logins alike; an address out of tokens gets 429
  *before* its key is looked up, so credential stuffing costs no database lookups;
- per API key, spent by every authenticated request.

Refused mutations are audited, but a flood of 429s writes one row per bucket per minute
(with the count), not one per request.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import anyio
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from api.middleware import MUTATING, audit_entry, log, refuse
from api.ratelimit import TokenBuckets, client_key
from storage.keys import authenticate

CHALLENGE = {"WWW-Authenticate": "Bearer"}


def token_of(headers: Headers) -> str | None:
    """The API key a request carries (``X-API-Key``, or ``Authorization: Bearer``)."""
    given = headers.get("x-api-key")
    if given:
        return given
    scheme, _, credentials = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return None


class KnownRoutes:
    """The API's routes as its OpenAPI document lists them, read on first use (once every
    route is in): which answer without a key, and the template a path belongs to — so a
    request refused before routing is still counted and audited by route, not by path."""

    def __init__(self, app: Any, *, docs_assets: str, own_sessions: str = "") -> None:
        #: ``own_sessions``: a path prefix whose pages authenticate with their own session
        #: (the model pages' signed cookie, :mod:`api.ui.sessions`); the gate lets requests
        #: without a key through to them, still under the per-address limit
        self.app, self.docs_assets, self.own_sessions = app, docs_assets, own_sessions
        self._public: set[str] = set()
        self._templates: list[tuple[re.Pattern[str], str]] = []

    def _load(self) -> None:
        if self._templates:
            return
        self._public.update({"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"})
        for path, operations in self.app.openapi()["paths"].items():
            if all(not op.get("security") for op in operations.values()):
                self._public.add(path)
            pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path))
            self._templates.append((re.compile(pattern + r"\Z"), path))

    def public(self, path: str) -> bool:
        self._load()
        return (path in self._public or path.startswith(self.docs_assets)
                or bool(self.own_sessions) and (path == self.own_sessions
                                                or path.startswith(self.own_sessions + "/")))

    def template(self, path: str) -> str | None:
        self._load()
        return next((t for pattern, t in self._templates if pattern.match(path)), None)


class Gate:
    def __init__(self, app: ASGIApp, *, engine: Engine, routes: KnownRoutes,
                 clients: TokenBuckets, keys: TokenBuckets, audit: Callable[[dict[str, Any]], None],
                 redact: Callable[[Any], Any]) -> None:
        self.app, self.engine, self.routes = app, engine, routes
        self.clients, self.keys, self.audit, self.redact = clients, keys, audit, redact

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = datetime.now(UTC)
        address = client_key((scope.get("client") or (None,))[0])
        token = token_of(Headers(scope=scope))
        if token is None:
            if await self._limited(scope, send, self.clients, address, started, take=True):
                return
            if self.routes.public(scope["path"]):
                await self.app(scope, receive, send)
            else:
                await self._deny(scope, send, 401, "an API key is required (Authorization: Bearer "
                                 "<key>)", started, CHALLENGE)
            return
        # this address's failures used up: no lookup at all until its bucket refills
        if await self._limited(scope, send, self.clients, address, started, take=False):
            return
        try:
            principal = await anyio.to_thread.run_sync(authenticate, self.engine, token)
        except OperationalError as exc:
            log.error("database unavailable while authenticating: %s", exc.__class__.__name__)
            await refuse(scope, send, 503, "database unavailable")
            return
        if principal is None:
            self.clients.take(address)
            await self._deny(scope, send, 401, "unknown or revoked API key", started, CHALLENGE)
            return
        scope.setdefault("state", {})["principal"] = principal
        if await self._limited(scope, send, self.keys, principal.key_id, started, take=True):
            return
        await self.app(scope, receive, send)

    def _routed(self, scope: Scope) -> None:
        """Name the route a refused request was aimed at (metrics, span and audit use it)."""
        template = self.routes.template(scope["path"])
        if template is not None and "route" not in scope:
            scope["route"] = SimpleNamespace(path=template)

    async def _limited(self, scope: Scope, send: Send, buckets: TokenBuckets, key: str,
                       started: datetime, *, take: bool) -> bool:
        wait = buckets.take(key) if take else buckets.wait(key)
        if wait <= 0:
            return False
        self._routed(scope)
        headers = {"Retry-After": str(max(1, math.ceil(wait)))}
        await refuse(scope, send, 429, "rate limit exceeded", headers)
        if scope["method"] in MUTATING:
            refused = buckets.refused(key)
            if refused:
                await self._record(scope, 429, started, {
                    "rate_limited": "key" if buckets is self.keys else "client address",
                    "refused_since_last_row": refused})
        return True

    async def _deny(self, scope: Scope, send: Send, status: int, detail: str, started: datetime,
                    headers: dict[str, str]) -> None:
        self._routed(scope)
        await refuse(scope, send, status, detail, headers)
        if scope["method"] in MUTATING:
            await self._record(scope, status, started, None)

    async def _record(self, scope: Scope, status: int, started: datetime,
                      details: dict[str, Any] | None) -> None:
        elapsed = (datetime.now(UTC) - started).total_seconds()
        entry = audit_entry(scope, self.redact, status=status, started=started, elapsed=elapsed,
                            details=details)
        try:
            await anyio.to_thread.run_sync(self.audit, entry)
        except Exception:  # a refusal changed nothing: a lost row is logged, not fatal
            log.exception("audit entry not written: %s", {k: entry[k] for k in
                                                          ("request_id", "actor", "action")})

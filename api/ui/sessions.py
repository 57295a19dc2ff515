"""Sessions of the model pages: an API key posted once, then a signed cookie.

The cookie carries no key: only the key's id, the session's id and its expiry, signed with
HMAC-SHA256 (``API__SESSION_SECRET``, else a random key per process). It is ``HttpOnly``
(no script reads it), ``SameSite=Strict`` (no other site's page sends it) and ``Secure`` over
HTTPS, and scoped to ``/ui``. Every request re-reads the key, so revoking it (or changing its
role) takes effect at once in every session. Forms carry a CSRF token derived from the
session id, and a POST whose ``Origin`` is another site is refused, the login form's too.
Logging out forgets the session in this process; other API processes honour it until it
expires (``API__SESSION_HOURS``) unless the key is revoked.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass

from fastapi import HTTPException, Request, Response
from sqlalchemy import Engine, select

from storage.keys import Principal
from storage.service import ApiKey

COOKIE = "driftline_session"
PATH = "/ui"


@dataclass(frozen=True)
class UiSession:
    principal: Principal
    session_id: str
    csrf: str


class LoggedOut:
    """Session ids logged out in this process, kept until they would have expired."""

    def __init__(self) -> None:
        self._ids: dict[str, float] = {}
        self._lock = threading.Lock()

    def add(self, session_id: str, expires: float) -> None:
        with self._lock:
            now = time.time()
            self._ids = {k: v for k, v in self._ids.items() if v > now}  # stays bounded
            self._ids[session_id] = expires

    def __contains__(self, session_id: str) -> bool:
        with self._lock:
            return session_id in self._ids


def _state(request: Request) -> tuple[bytes, LoggedOut]:
    state = request.app.state
    if not hasattr(state, "ui_sessions"):
        configured = state.settings.api.session_secret
        secret = (configured.get_secret_value().encode() if configured is not None
                  else secrets.token_bytes(32))
        state.ui_sessions = (secret, LoggedOut())
    return state.ui_sessions  # type: ignore[no-any-return]


def _sign(secret: bytes, payload: bytes) -> str:
    return base64.urlsafe_b64encode(hmac.new(secret, payload, hashlib.sha256).digest()
                                    ).decode().rstrip("=")


def csrf_token(secret: bytes, session_id: str) -> str:
    return _sign(secret, b"csrf:" + session_id.encode())


def start(request: Request, response: Response, principal: Principal) -> None:
    """Set the session cookie for ``principal`` (after the key was checked)."""
    secret, _ = _state(request)
    hours = request.app.state.settings.api.session_hours
    expires = int(time.time() + hours * 3600)
    payload = json.dumps({"k": principal.key_id, "s": uuid.uuid4().hex, "e": expires},
                         separators=(",", ":")).encode()
    value = base64.urlsafe_b64encode(payload).decode().rstrip("=") + "." + _sign(secret, payload)
    response.set_cookie(COOKIE, value, max_age=int(hours * 3600), path=PATH, httponly=True,
                        samesite="strict", secure=request.url.scheme == "https")


def end(request: Request, response: Response, session: UiSession | None) -> None:
    secret, logged_out = _state(request)
    if session is not None:
        logged_out.add(session.session_id, time.time() + request.app.state.settings.api.session_hours * 3600)
    response.delete_cookie(COOKIE, path=PATH, httponly=True, samesite="strict",
                           secure=request.url.scheme == "https")


def _payload(secret: bytes, value: str) -> dict[str, object] | None:
    body, _, signature = value.partition(".")
    try:
        payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (ValueError, TypeError):
        return None
    if not hmac.compare_digest(_sign(secret, payload), signature):
        return None
    try:
        data = json.loads(payload)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _principal(engine: Engine, key_id: str) -> Principal | None:
    try:
        key = uuid.UUID(key_id)
    except ValueError:
        return None
    with engine.connect() as conn:
        row = conn.execute(select(ApiKey.id, ApiKey.name, ApiKey.role)
                           .where(ApiKey.id == key, ApiKey.revoked_at.is_(None))).one_or_none()
    return None if row is None else Principal(str(row.id), row.name, row.role)


def current(request: Request) -> UiSession | None:
    """The request's session, or ``None`` (no cookie, forged, expired, logged out, revoked)."""
    value = request.cookies.get(COOKIE)
    if not value or len(value) > 1024:
        return None
    secret, logged_out = _state(request)
    data = _payload(secret, value)
    if data is None:
        return None
    key_id, session_id, expires = data.get("k"), data.get("s"), data.get("e")
    if not (isinstance(key_id, str) and isinstance(session_id, str) and isinstance(expires, int)):
        return None
    if expires <= time.time() or session_id in logged_out:
        return None
    principal = _principal(request.app.state.engine, key_id)
    if principal is None:
        return None
    request.state.principal = principal  # the audit trail names who acted
    return UiSession(principal, session_id, csrf_token(secret, session_id))


def same_origin(request: Request) -> None:
    """Refuse a POST sent from another site's page (``Origin`` names the sender; browsers
    send it with every form POST, and ``null`` from sandboxed or privacy-redirected pages)."""
    origin = request.headers.get("origin")
    if origin is None:
        return
    expected = f"{request.url.scheme}://{request.headers.get('host', '')}"
    if origin.rstrip("/") != expected:
        raise HTTPException(403, "cross-site form posts are refused")


def check_csrf(session: UiSession, token: str | None) -> None:
    if not token or not hmac.compare_digest(token, session.csrf):
        raise HTTPException(403, "the form's CSRF token is missing or wrong; reload the page")

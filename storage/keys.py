"""API keys: random tokens shown once, stored as SHA-256 digests, revoked not deleted.

A token carries 256 bits of randomness, so a plain (unsalted) SHA-256 is enough to make a
stolen table useless; a slow password hash would only slow every request down.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.audit import audit_row
from storage.service import ROLES, ApiKey

TOKEN_PREFIX = "dl_"  # noqa: S105 - a marker, not a secret


class ApiKeyError(ValueError):
    """A key cannot be created or revoked as asked; the message says why."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's id, name and role."""

    key_id: str
    name: str
    role: str


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def create_key(engine: Engine, name: str, role: str, *,
               audit: dict[str, Any] | None = None) -> tuple[ApiKey, str]:
    """Create a key; returns the row and the token, which is never stored or shown again.

    With ``audit`` (an entry, see :func:`storage.audit.cli_entry`), the audit row is written
    in the same transaction: no key without its row.
    """
    if role not in ROLES:
        raise ApiKeyError(f"role must be one of {', '.join(ROLES)}")
    token = new_token()
    try:
        with engine.begin() as conn:
            conn.execute(insert(ApiKey).values(id=uuid.uuid4(), name=name, role=role,
                                               key_hash=hash_token(token), prefix=token[:10]))
            if audit is not None:
                audit_row(conn, {**audit, "details": {**(audit.get("details") or {}),
                                                      "key": name, "role": role}})
    except IntegrityError:
        raise ApiKeyError(f"a key named {name!r} already exists") from None
    return get_key(engine, name), token


def get_key(engine: Engine, name: str) -> ApiKey:
    with Session(engine) as session:
        key = session.scalars(select(ApiKey).where(ApiKey.name == name)).one_or_none()
    if key is None:
        raise ApiKeyError(f"no key named {name!r}")
    return key


def list_keys(engine: Engine) -> list[ApiKey]:
    with Session(engine) as session:
        return list(session.scalars(select(ApiKey).order_by(ApiKey.created_at, ApiKey.name)))


def revoke_key(engine: Engine, name: str, *, audit: dict[str, Any] | None = None) -> ApiKey:
    """Revoke the key called ``name``; revoking twice keeps the first revocation time. With
    ``audit``, its row commits with the revocation (an unknown key changes nothing and
    raises before any row is written)."""
    with engine.begin() as conn:
        changed = conn.execute(update(ApiKey).where(ApiKey.name == name, ApiKey.revoked_at.is_(None))
                               .values(revoked_at=datetime.now(UTC))).rowcount
        if audit is not None and changed:
            audit_row(conn, {**audit, "details": {**(audit.get("details") or {}), "key": name}})
    return get_key(engine, name)


def authenticate(engine: Engine, token: str) -> Principal | None:
    """The principal behind ``token``, or ``None`` for an unknown or revoked key."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 128:
        return None
    with engine.connect() as conn:
        row = conn.execute(
            select(ApiKey.id, ApiKey.name, ApiKey.role)
            .where(ApiKey.key_hash == hash_token(token), ApiKey.revoked_at.is_(None))
        ).one_or_none()
    return None if row is None else Principal(str(row.id), row.name, row.role)

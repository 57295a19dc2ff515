"""Tables of the service surface: API keys, the audit log and red-team results.

``audit_log`` and ``red_team_results`` grow with time and are range-partitioned by month
like the drift history (see :data:`storage.models.PARTITIONED`); API keys are few.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Float, Index, Integer, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import JSON

from storage.dialect import UTCDateTime
from storage.models import Base

#: JSONB on PostgreSQL (queryable, compact), plain JSON elsewhere
JSONDocument = JSON().with_variant(JSONB(), "postgresql")

ROLES = ("viewer", "operator", "admin")


class ApiKey(Base):
    """An API key; only the SHA-256 of the token is kept, the token is shown once."""

    __tablename__ = "api_keys"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: the token's first characters, so a person can tell keys apart
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AuditEntry(Base):
    """One mutating API call: who, what, when, the request id and how it ended."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_time", "timestamp"),
        Index("ix_audit_log_actor_time", "actor", "timestamp"),
        Index("ix_audit_log_action_time", "action", "timestamp"),
        Index("ix_audit_log_request_id", "request_id"),
        {"postgresql_partition_by": "RANGE (timestamp)"},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    request_id: Mapped[str] = mapped_column(String(128))
    actor: Mapped[str] = mapped_column(String(128))
    key_id: Mapped[uuid.UUID | None]
    role: Mapped[str | None] = mapped_column(String(16))
    method: Mapped[str] = mapped_column(String(16))
    path: Mapped[str] = mapped_column(String(512))
    action: Mapped[str] = mapped_column(String(256))
    status_code: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(16))
    client: Mapped[str | None] = mapped_column(String(128))
    duration_ms: Mapped[float] = mapped_column(Float)
    details: Mapped[Any | None] = mapped_column(JSONDocument)


class RedTeamRow(Base):
    """One security test against one model version (a :class:`schemas.redteam.RedTeamResult`)."""

    __tablename__ = "red_team_results"
    __table_args__ = (
        Index("ix_red_team_results_model_time", "model_name", "model_version", "timestamp"),
        Index("ix_red_team_results_attack_time", "attack_type", "timestamp"),
        {"postgresql_partition_by": "RANGE (timestamp)"},
    )

    event_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    model_name: Mapped[str] = mapped_column(String(128))
    model_version: Mapped[str] = mapped_column(String(128))
    attack_type: Mapped[str] = mapped_column(String(128))
    attack_name: Mapped[str | None] = mapped_column(String(128))
    success: Mapped[bool]
    severity: Mapped[str] = mapped_column(String(16))
    details: Mapped[Any | None] = mapped_column(JSONDocument)
    #: "api" or "stream": which path brought the result in
    source: Mapped[str] = mapped_column(String(16))
    ingested_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())

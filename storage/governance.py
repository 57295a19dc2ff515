"""Tables of the governed loop: retrain decisions, training jobs, promotion decisions, and the
notification log that de-duplication and rate limits read.

Decisions are few (a handful per model per day), so these tables are not partitioned.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, Index, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from storage.dialect import UTCDateTime
from storage.models import Base


class RetrainRequestRow(Base):
    """Every retrain decision (accepted, merged, suppressed) with its reason."""

    __tablename__ = "retrain_requests"
    __table_args__ = (
        Index("ix_retrain_requests_model_time", "model_name", "timestamp"),
        Index("ix_retrain_requests_request", "request_id"),
    )

    event_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime())
    model_name: Mapped[str] = mapped_column(String(128))
    model_version: Mapped[str] = mapped_column(String(128))
    request_id: Mapped[uuid.UUID]
    decision: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    trigger_kind: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(16))
    priority: Mapped[int] = mapped_column(Integer)
    registered_model: Mapped[str] = mapped_column(String(128))
    triggers: Mapped[Any] = mapped_column(JSON)
    requests_today: Mapped[int] = mapped_column(Integer)
    cooldown_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ingested_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())


class RetrainJobRow(Base):
    """The latest known state of the training job of one accepted request."""

    __tablename__ = "training_jobs"
    __table_args__ = (Index("ix_training_jobs_model_time", "model_name", "updated_at"),)

    request_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    job_id: Mapped[str] = mapped_column(String(128))
    model_name: Mapped[str] = mapped_column(String(128))
    model_version: Mapped[str] = mapped_column(String(128))
    registered_model: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16))
    progress: Mapped[float] = mapped_column(Float)
    message: Mapped[str] = mapped_column(Text)
    candidate_version: Mapped[str | None] = mapped_column(String(128))
    run_id: Mapped[str | None] = mapped_column(String(64))
    metrics: Mapped[Any | None] = mapped_column(JSON)
    last_event_id: Mapped[uuid.UUID]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PromotionDecisionRow(Base):
    __tablename__ = "promotion_events"
    __table_args__ = (Index("ix_promotion_events_model_time", "registered_model", "timestamp"),)

    event_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime())
    model_name: Mapped[str] = mapped_column(String(128))
    model_version: Mapped[str] = mapped_column(String(128))
    registered_model: Mapped[str] = mapped_column(String(128))
    decision: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    criteria: Mapped[Any] = mapped_column(JSON)
    candidate_version: Mapped[str | None] = mapped_column(String(128))
    champion_version: Mapped[str | None] = mapped_column(String(128))
    request_id: Mapped[uuid.UUID | None]
    job_id: Mapped[str | None] = mapped_column(String(128))


class NotificationRow(Base):
    """One alert's fate at the notification agent: sent, deduplicated, rate_limited or failed."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_model_kind_time", "model_name", "kind", "decided_at"),
    )

    alert_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    model_name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(32))
    dedup_key: Mapped[str] = mapped_column(String(256))
    subject: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    recipients: Mapped[str] = mapped_column(Text)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime())

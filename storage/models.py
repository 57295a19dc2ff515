"""Tables driftline keeps. Time-series tables are range-partitioned by month on PostgreSQL;
their primary key includes the partition column, which every event fixes deterministically,
so inserting the same event twice still hits the same row."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    false,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from storage.dialect import UTCDateTime

#: tables partitioned by month on PostgreSQL, with their partition column
PARTITIONED: dict[str, str] = {
    "drift_events": "timestamp",
    "performance_metrics": "timestamp",
    "labelled_predictions": "timestamp",
    "audit_log": "timestamp",
    "red_team_results": "timestamp",
}


class Base(DeclarativeBase):
    pass


class DriftResult(Base):
    __tablename__ = "drift_events"
    __table_args__ = (
        Index("ix_drift_events_model_time", "model_name", "model_version", "timestamp"),
        Index("ix_drift_events_feature_time", "model_name", "feature", "timestamp"),
        {"postgresql_partition_by": "RANGE (timestamp)"},
    )

    event_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    model_name: Mapped[str] = mapped_column(String(128))
    model_version: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(32))
    feature: Mapped[str] = mapped_column(String(128))
    test: Mapped[str] = mapped_column(String(64))
    statistic: Mapped[float | None] = mapped_column(Float)
    p_value: Mapped[float | None] = mapped_column(Float)
    p_value_adjusted: Mapped[float | None] = mapped_column(Float)
    effect: Mapped[float | None] = mapped_column(Float)
    severity: Mapped[str] = mapped_column(String(16))
    drifted: Mapped[bool]
    window_start_seq: Mapped[int] = mapped_column(BigInteger)
    window_end_seq: Mapped[int] = mapped_column(BigInteger)
    window_start_offset: Mapped[int] = mapped_column(BigInteger)
    window_end_offset: Mapped[int] = mapped_column(BigInteger)
    window_start_time: Mapped[datetime] = mapped_column(UTCDateTime())
    window_end_time: Mapped[datetime] = mapped_column(UTCDateTime())
    reference_size: Mapped[int] = mapped_column(Integer)
    current_size: Mapped[int] = mapped_column(Integer)  # the effective sample size
    missing_share: Mapped[float | None] = mapped_column(Float)
    partition: Mapped[int | None] = mapped_column(Integer)
    #: the share of the model's events monitored (deterministic sampling); 1.0: all of them
    sample_rate: Mapped[float] = mapped_column(Float, server_default=text("1.0"), default=1.0)
    #: every test the registry ran: name -> {statistic, p_value, effect, drifted}
    tests: Mapped[Any | None] = mapped_column(JSON().with_variant(JSONB(), "postgresql"))
    ingested_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())


class DeadLetterRow(Base):
    __tablename__ = "dead_letters"
    __table_args__ = (Index("ix_dead_letters_topic_time", "topic", "timestamp"),
                      Index("ix_dead_letters_code_time", "reason_code", "timestamp"))

    event_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime())
    topic: Mapped[str] = mapped_column(String(255))
    partition: Mapped[int | None] = mapped_column(Integer)
    offset: Mapped[int | None] = mapped_column(BigInteger)
    key: Mapped[bytes | None] = mapped_column(LargeBinary)
    value: Mapped[bytes] = mapped_column(LargeBinary)
    reason: Mapped[str] = mapped_column(Text)
    app_id: Mapped[str] = mapped_column(String(255))
    model_name: Mapped[str | None] = mapped_column(String(128))
    model_version: Mapped[str | None] = mapped_column(String(128))
    #: schemas.reasons.Reason
    reason_code: Mapped[str | None] = mapped_column(String(32))
    #: the original value's size; ``value`` holds only a prefix when ``value_truncated``
    value_size: Mapped[int | None] = mapped_column(BigInteger)
    value_truncated: Mapped[bool] = mapped_column(Boolean, server_default=false())


class PerformanceMetric(Base):
    """One metric of one closed window of labelled predictions (or of confidences)."""

    __tablename__ = "performance_metrics"
    __table_args__ = (
        Index("ix_performance_metrics_model_metric_time", "model_name", "metric", "timestamp"),
        {"postgresql_partition_by": "RANGE (timestamp)"},
    )

    event_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    model_name: Mapped[str] = mapped_column(String(128))
    model_version: Mapped[str] = mapped_column(String(128))
    metric: Mapped[str] = mapped_column(String(64))
    value: Mapped[float | None] = mapped_column(Float)
    reference_value: Mapped[float | None] = mapped_column(Float)
    sample_size: Mapped[int] = mapped_column(Integer)
    window_start_seq: Mapped[int] = mapped_column(BigInteger)
    window_end_seq: Mapped[int] = mapped_column(BigInteger)
    window_start_time: Mapped[datetime] = mapped_column(UTCDateTime())
    window_end_time: Mapped[datetime] = mapped_column(UTCDateTime())
    #: estimated without labels (CBPE for classifiers, DLE for regressors), with an interval
    estimated: Mapped[bool] = mapped_column(Boolean, server_default=false(), default=False)
    lower: Mapped[float | None] = mapped_column(Float)
    upper: Mapped[float | None] = mapped_column(Float)
    ingested_at: Mapped[datetime] = mapped_column(UTCDateTime(),
                                                  server_default=func.now())


class LabelledPrediction(Base):
    """A prediction joined with its label: the production data retraining and evaluation use."""

    __tablename__ = "labelled_predictions"
    __table_args__ = (
        Index("ix_labelled_predictions_model_time", "model_name", "model_version", "timestamp"),
        {"postgresql_partition_by": "RANGE (timestamp)"},
    )

    event_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)  # the prediction's event_id
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    model_name: Mapped[str] = mapped_column(String(128))
    model_version: Mapped[str] = mapped_column(String(128))
    label_time: Mapped[datetime] = mapped_column(UTCDateTime())
    prediction: Mapped[Any] = mapped_column(JSON)
    probabilities: Mapped[Any | None] = mapped_column(JSON)
    features: Mapped[Any | None] = mapped_column(JSON)
    label: Mapped[Any] = mapped_column(JSON)

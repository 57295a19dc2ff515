"""performance metrics and labelled predictions

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from storage.partitions import ensure_partitions

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "performance_metrics",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.Column("model_name", sa.String(128), nullable=False),
        sa.Column("model_version", sa.String(128), nullable=False),
        sa.Column("metric", sa.String(64), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("reference_value", sa.Float(), nullable=True),
        sa.Column("sample_size", sa.Integer(), nullable=False),
        sa.Column("window_start_seq", sa.BigInteger(), nullable=False),
        sa.Column("window_end_seq", sa.BigInteger(), nullable=False),
        sa.Column("window_start_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_end_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ingested_at", sa.DateTime(timezone=True), server_default=sa.func.now(),
                  nullable=False),
        sa.PrimaryKeyConstraint("event_id", "timestamp"),
        postgresql_partition_by="RANGE (timestamp)",
    )
    op.create_index("ix_performance_metrics_model_metric_time", "performance_metrics",
                    ["model_name", "metric", "timestamp"])
    op.create_table(
        "labelled_predictions",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.Column("model_name", sa.String(128), nullable=False),
        sa.Column("model_version", sa.String(128), nullable=False),
        sa.Column("label_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("prediction", sa.JSON(), nullable=False),
        sa.Column("probabilities", sa.JSON(), nullable=True),
        sa.Column("features", sa.JSON(), nullable=True),
        sa.Column("label", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("event_id", "timestamp"),
        postgresql_partition_by="RANGE (timestamp)",
    )
    op.create_index("ix_labelled_predictions_model_time", "labelled_predictions",
                    ["model_name", "model_version", "timestamp"])
    ensure_partitions(op.get_bind(), datetime.now(UTC).date(),
                      tables={"performance_metrics": "timestamp",
                              "labelled_predictions": "timestamp"})


def downgrade() -> None:
    op.drop_table("labelled_predictions")
    op.drop_table("performance_metrics")

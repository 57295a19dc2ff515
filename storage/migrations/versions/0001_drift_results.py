"""drift results and dead letters

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from storage.partitions import ensure_partitions

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "drift_results",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.Column("model_name", sa.String(128), nullable=False),
        sa.Column("model_version", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("feature", sa.String(128), nullable=False),
        sa.Column("test", sa.String(64), nullable=False),
        sa.Column("statistic", sa.Float(), nullable=False),
        sa.Column("p_value", sa.Float(), nullable=True),
        sa.Column("p_value_adjusted", sa.Float(), nullable=True),
        sa.Column("effect", sa.Float(), nullable=True),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("drifted", sa.Boolean(), nullable=False),
        sa.Column("window_start_seq", sa.BigInteger(), nullable=False),
        sa.Column("window_end_seq", sa.BigInteger(), nullable=False),
        sa.Column("window_start_offset", sa.BigInteger(), nullable=False),
        sa.Column("window_end_offset", sa.BigInteger(), nullable=False),
        sa.Column("window_start_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_end_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reference_size", sa.Integer(), nullable=False),
        sa.Column("current_size", sa.Integer(), nullable=False),
        sa.Column("missing_share", sa.Float(), nullable=True),
        sa.Column("partition", sa.Integer(), nullable=True),
        sa.Column("ingested_at", sa.DateTime(timezone=True), server_default=sa.func.now(),
                  nullable=False),
        sa.PrimaryKeyConstraint("event_id", "timestamp"),
        postgresql_partition_by="RANGE (timestamp)",
    )
    op.create_index("ix_drift_results_model_time", "drift_results",
                    ["model_name", "model_version", "timestamp"])
    op.create_index("ix_drift_results_feature_time", "drift_results",
                    ["model_name", "feature", "timestamp"])
    op.create_table(
        "dead_letters",
        sa.Column("event_id", sa.Uuid(), primary_key=True),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.Column("topic", sa.String(255), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=True),
        sa.Column("offset", sa.BigInteger(), nullable=True),
        sa.Column("key", sa.LargeBinary(), nullable=True),
        sa.Column("value", sa.LargeBinary(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("app_id", sa.String(255), nullable=False),
        sa.Column("model_name", sa.String(128), nullable=True),
        sa.Column("model_version", sa.String(128), nullable=True),
    )
    op.create_index("ix_dead_letters_topic_time", "dead_letters", ["topic", "timestamp"])
    ensure_partitions(op.get_bind(), datetime.now(UTC).date(), tables={"drift_results": "timestamp"})


def downgrade() -> None:
    op.drop_table("dead_letters")
    op.drop_table("drift_results")

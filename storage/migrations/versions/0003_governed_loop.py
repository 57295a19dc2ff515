"""governed loop: retrain requests, retrain jobs, promotion decisions, notifications

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "retrain_requests",
        sa.Column("event_id", sa.Uuid(), primary_key=True),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.Column("model_name", sa.String(128), nullable=False),
        sa.Column("model_version", sa.String(128), nullable=False),
        sa.Column("request_id", sa.Uuid(), nullable=False),
        sa.Column("decision", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("trigger_kind", sa.String(32), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("registered_model", sa.String(128), nullable=False),
        sa.Column("triggers", sa.JSON(), nullable=False),
        sa.Column("requests_today", sa.Integer(), nullable=False),
        sa.Column("cooldown_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ingested_at", sa.DateTime(timezone=True), server_default=sa.func.now(),
                  nullable=False),
    )
    op.create_index("ix_retrain_requests_model_time", "retrain_requests", ["model_name", "timestamp"])
    op.create_index("ix_retrain_requests_request", "retrain_requests", ["request_id"])
    op.create_table(
        "retrain_jobs",
        sa.Column("request_id", sa.Uuid(), primary_key=True),
        sa.Column("job_id", sa.String(128), nullable=False),
        sa.Column("model_name", sa.String(128), nullable=False),
        sa.Column("model_version", sa.String(128), nullable=False),
        sa.Column("registered_model", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("candidate_version", sa.String(128), nullable=True),
        sa.Column("run_id", sa.String(64), nullable=True),
        sa.Column("metrics", sa.JSON(), nullable=True),
        sa.Column("last_event_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_retrain_jobs_model_time", "retrain_jobs", ["model_name", "updated_at"])
    op.create_table(
        "promotion_decisions",
        sa.Column("event_id", sa.Uuid(), primary_key=True),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.Column("model_name", sa.String(128), nullable=False),
        sa.Column("model_version", sa.String(128), nullable=False),
        sa.Column("registered_model", sa.String(128), nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("criteria", sa.JSON(), nullable=False),
        sa.Column("candidate_version", sa.String(128), nullable=True),
        sa.Column("champion_version", sa.String(128), nullable=True),
        sa.Column("request_id", sa.Uuid(), nullable=True),
        sa.Column("job_id", sa.String(128), nullable=True),
    )
    op.create_index("ix_promotion_decisions_model_time", "promotion_decisions",
                    ["registered_model", "timestamp"])
    op.create_table(
        "notifications",
        sa.Column("alert_id", sa.Uuid(), primary_key=True),
        sa.Column("model_name", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("dedup_key", sa.String(256), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("recipients", sa.Text(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_notifications_model_kind_time", "notifications",
                    ["model_name", "kind", "decided_at"])


def downgrade() -> None:
    op.drop_table("notifications")
    op.drop_table("promotion_decisions")
    op.drop_table("retrain_jobs")
    op.drop_table("retrain_requests")

"""service surface: API keys, audit log, red-team results

Revision ID: 0004
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from storage.partitions import ensure_partitions

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _json() -> sa.types.TypeEngine:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("name", sa.String(128), nullable=False, unique=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(),
                  nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("role IN ('viewer', 'operator', 'admin')", name="ck_api_keys_role"),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("key_id", sa.Uuid(), nullable=True),
        sa.Column("role", sa.String(16), nullable=True),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("path", sa.String(512), nullable=False),
        sa.Column("action", sa.String(256), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("client", sa.String(128), nullable=True),
        sa.Column("duration_ms", sa.Float(), nullable=False),
        sa.Column("details", _json(), nullable=True),
        sa.PrimaryKeyConstraint("id", "timestamp"),
        postgresql_partition_by="RANGE (timestamp)",
    )
    op.create_index("ix_audit_log_time", "audit_log", ["timestamp"])
    op.create_index("ix_audit_log_actor_time", "audit_log", ["actor", "timestamp"])
    op.create_index("ix_audit_log_action_time", "audit_log", ["action", "timestamp"])
    op.create_index("ix_audit_log_request_id", "audit_log", ["request_id"])
    op.create_table(
        "red_team_results",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.Column("model_name", sa.String(128), nullable=False),
        sa.Column("model_version", sa.String(128), nullable=False),
        sa.Column("attack_type", sa.String(128), nullable=False),
        sa.Column("attack_name", sa.String(128), nullable=True),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("details", _json(), nullable=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("ingested_at", sa.DateTime(timezone=True), server_default=sa.func.now(),
                  nullable=False),
        sa.PrimaryKeyConstraint("event_id", "timestamp"),
        postgresql_partition_by="RANGE (timestamp)",
    )
    op.create_index("ix_red_team_results_model_time", "red_team_results",
                    ["model_name", "model_version", "timestamp"])
    op.create_index("ix_red_team_results_attack_time", "red_team_results",
                    ["attack_type", "timestamp"])
    ensure_partitions(op.get_bind(), datetime.now(UTC).date(),
                      tables={"audit_log": "timestamp", "red_team_results": "timestamp"})


def downgrade() -> None:
    op.drop_table("red_team_results")
    op.drop_table("audit_log")
    op.drop_table("api_keys")

"""drift events: the share of the model's events sampled (sample_rate, 1 when unsampled)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01

A model monitored on a deterministic sample (``DRIFT__MODELS.<model>.sample_rate``) stores its
rate with each result; ``current_size`` stays the window's effective sample size. Rows written
before keep 1.0: they were not sampled.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # plain ADD COLUMN with a constant default: PostgreSQL (down to every monthly partition)
    # and SQLite both do it in place
    op.add_column("drift_events", sa.Column("sample_rate", sa.Float(), nullable=False,
                                            server_default=sa.text("1.0")))


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("drift_events") as batch:
            batch.drop_column("sample_rate")
    else:
        op.drop_column("drift_events", "sample_rate")

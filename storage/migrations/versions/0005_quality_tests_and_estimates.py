"""every drift test's result on drift_results; estimated metrics on performance_metrics

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _json() -> sa.types.TypeEngine:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    # name -> {statistic, p_value, effect, drifted}: whatever the registry ran, so a new test
    # reaches SQL and the API without a schema change of its own
    op.add_column("drift_results", sa.Column("tests", _json(), nullable=True))
    # a metric estimated without labels (CBPE / DLE) beside the realized one, with its interval
    op.add_column("performance_metrics",
                  sa.Column("estimated", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column("performance_metrics", sa.Column("lower", sa.Float(), nullable=True))
    op.add_column("performance_metrics", sa.Column("upper", sa.Float(), nullable=True))


def downgrade() -> None:
    op.drop_column("performance_metrics", "upper")
    op.drop_column("performance_metrics", "lower")
    op.drop_column("performance_metrics", "estimated")
    op.drop_column("drift_results", "tests")

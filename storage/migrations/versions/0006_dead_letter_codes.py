"""dead letters: reason code, original size, truncation flag; a drift statistic may be null

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # plain ADD COLUMN: PostgreSQL and SQLite both do it in place
    op.add_column("dead_letters", sa.Column("reason_code", sa.String(32), nullable=True))
    op.add_column("dead_letters", sa.Column("value_size", sa.BigInteger(), nullable=True))
    op.add_column("dead_letters", sa.Column("value_truncated", sa.Boolean(), nullable=False,
                                            server_default=sa.false()))
    op.create_index("ix_dead_letters_code_time", "dead_letters", ["reason_code", "timestamp"])
    # a test that could not be computed (all values missing) has no statistic: null, not 0.0
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        if bind.dialect.server_version_info is None:  # env.py's NullPool skips first-connect
            bind.dialect.initialize(bind)
        with op.batch_alter_table("drift_results") as batch:
            batch.alter_column("statistic", existing_type=sa.Float(), nullable=True)
    else:
        op.alter_column("drift_results", "statistic", existing_type=sa.Float(), nullable=True)


def downgrade() -> None:
    op.drop_index("ix_dead_letters_code_time", table_name="dead_letters")
    for column in ("value_truncated", "value_size", "reason_code"):
        op.drop_column("dead_letters", column)

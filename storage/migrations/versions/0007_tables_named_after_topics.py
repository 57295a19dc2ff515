"""table names follow topic names: drift_events, training_jobs, promotion_events

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01

``drift-events`` was stored in ``drift_results``, ``training-jobs`` in ``retrain_jobs`` and
``promotion-events`` in ``promotion_decisions``. The tables (and on PostgreSQL the monthly
partitions of ``drift_results`` and their indexes' names) take their topic's name; no row
moves. SQLite cannot rename an index, so there the indexes are dropped and made again.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

#: old table -> new table, and each table's indexes (old name, new name, columns)
RENAMES: tuple[tuple[str, str, tuple[tuple[str, str, tuple[str, ...]], ...]], ...] = (
    ("drift_results", "drift_events", (
        ("ix_drift_results_model_time", "ix_drift_events_model_time",
         ("model_name", "model_version", "timestamp")),
        ("ix_drift_results_feature_time", "ix_drift_events_feature_time",
         ("model_name", "feature", "timestamp")),
    )),
    ("retrain_jobs", "training_jobs", (
        ("ix_retrain_jobs_model_time", "ix_training_jobs_model_time", ("model_name", "updated_at")),
    )),
    ("promotion_decisions", "promotion_events", (
        ("ix_promotion_decisions_model_time", "ix_promotion_events_model_time",
         ("registered_model", "timestamp")),
    )),
)


def _rename(old: str, new: str, indexes: tuple[tuple[str, str, tuple[str, ...]], ...]) -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        partitions = bind.execute(sa.text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = :t"), {"t": old}).scalars()
        for partition in list(partitions):
            if partition.startswith(f"{old}_"):
                op.execute(f'ALTER TABLE "{partition}" RENAME TO "{new}{partition[len(old):]}"')
        op.rename_table(old, new)
        for index_old, index_new, _ in indexes:
            op.execute(f'ALTER INDEX "{index_old}" RENAME TO "{index_new}"')
        op.execute(f'ALTER TABLE "{new}" RENAME CONSTRAINT "{old}_pkey" TO "{new}_pkey"')
        return
    for index_old, _, _ in indexes:
        op.drop_index(index_old, table_name=old)
    op.rename_table(old, new)
    for _, index_new, columns in indexes:
        op.create_index(index_new, new, list(columns))


def upgrade() -> None:
    for old, new, indexes in RENAMES:
        _rename(old, new, indexes)


def downgrade() -> None:
    for old, new, indexes in RENAMES:
        _rename(new, old, tuple((b, a, columns) for a, b, columns in indexes))

"""Monthly range partitions on PostgreSQL: created ahead of time, dropped by retention.

Each partitioned table also has a DEFAULT partition, so a row outside every month
(a producer clock far off) is stored rather than rejected.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime

from sqlalchemy import Connection, Engine, text

from storage.models import PARTITIONED


def month_start(day: date, shift: int = 0) -> date:
    index = day.year * 12 + (day.month - 1) + shift
    return date(index // 12, index % 12 + 1, 1)


def partition_name(table: str, month: date) -> str:
    return f"{table}_{month:%Y_%m}"


def partitions_of(conn: Connection, table: str) -> list[str]:
    """Names of ``table``'s partitions (PostgreSQL), sorted."""
    return list(conn.execute(text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = :t ORDER BY 1"
    ), {"t": table}).scalars())


def ensure_partitions(conn: Connection, today: date, *, months_back: int = 1,
                      months_ahead: int = 3, tables: Mapping[str, str] | None = None) -> list[str]:
    """Create missing monthly partitions around ``today``; return the names created.

    ``tables`` (table -> partition column) defaults to every partitioned table of the ORM; a
    migration names its own tables as they were when it was written, never the ORM's.
    """
    if conn.dialect.name != "postgresql":
        return []
    created: list[str] = []
    tables = PARTITIONED if tables is None else tables
    for table, column in tables.items():
        conn.execute(text(
            f'CREATE TABLE IF NOT EXISTS "{table}_default" PARTITION OF "{table}" DEFAULT'
        ))
        existing = set(partitions_of(conn, table))
        for shift in range(-months_back, months_ahead + 1):
            lo, hi = month_start(today, shift), month_start(today, shift + 1)
            name = partition_name(table, lo)
            if name in existing:
                continue
            # Rows of that month already sitting in the default partition would block the new
            # one; move them across inside the same transaction.
            conn.execute(text(f'CREATE TABLE "{name}" (LIKE "{table}" INCLUDING DEFAULTS)'))
            # identifiers come from PARTITIONED or a migration, never from input
            move = (f'WITH moved AS (DELETE FROM "{table}_default" WHERE "{column}" >= :lo '  # noqa: S608
                    f'AND "{column}" < :hi RETURNING *) INSERT INTO "{name}" SELECT * FROM moved')
            conn.execute(text(move), {"lo": datetime(lo.year, lo.month, 1, tzinfo=UTC),
                "hi": datetime(hi.year, hi.month, 1, tzinfo=UTC)})
            conn.execute(text(
                f"ALTER TABLE \"{table}\" ATTACH PARTITION \"{name}\" "
                f"FOR VALUES FROM ('{lo.isoformat()} 00:00:00+00') TO ('{hi.isoformat()} 00:00:00+00')"
            ))
            created.append(name)
    return created


#: advisory-lock key serialising partition maintenance across the worker and API processes
_MAINTENANCE_LOCK = 0x64726966746C6E  # "driftln"


def maintain_partitions(engine: Engine, today: date | None = None, *,
                        months_ahead: int = 3) -> list[str]:
    """Create the coming months' partitions of every partitioned table that exists.

    Called by the worker and the API at start-up and daily; safe to run concurrently (an
    advisory lock serialises it) and a no-op on SQLite.
    """
    if engine.dialect.name != "postgresql":
        return []
    today = today or datetime.now(UTC).date()
    with engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MAINTENANCE_LOCK})
        present = {t: column for t, column in PARTITIONED.items()
                   if conn.execute(text("SELECT to_regclass(:t)"), {"t": t}).scalar() is not None}
        return ensure_partitions(conn, today, months_ahead=months_ahead, tables=present)

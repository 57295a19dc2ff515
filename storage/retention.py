"""Retention: old history goes a whole monthly partition at a time.

Only partitions named like :func:`storage.partitions.partition_name` are candidates; the
DEFAULT partition and the current month are never dropped, whatever the cut-off.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Connection, text

from storage.models import PARTITIONED
from storage.partitions import month_start, partitions_of


@dataclass(frozen=True)
class ExpiredPartition:
    table: str
    partition: str
    month: date
    rows: int


def expired_partitions(conn: Connection, today: date, older_than_months: int,
                       tables: Iterable[str] | None = None) -> list[ExpiredPartition]:
    """Monthly partitions whose whole month lies more than ``older_than_months`` back."""
    if older_than_months < 1:
        raise ValueError("older_than_months must be at least 1")
    if conn.dialect.name != "postgresql":
        return []
    current = month_start(today)
    cutoff = month_start(today, -older_than_months)
    out: list[ExpiredPartition] = []
    for table in PARTITIONED if tables is None else tables:
        if table not in PARTITIONED:
            raise ValueError(f"{table} is not a partitioned table")
        pattern = re.compile(rf"{re.escape(table)}_(\d{{4}})_(\d{{2}})")
        for name in partitions_of(conn, table):
            match = pattern.fullmatch(name)
            if match is None:  # the DEFAULT partition, or something not ours
                continue
            month = date(int(match[1]), int(match[2]), 1)
            if month < cutoff and month < current:
                rows = conn.execute(text(f'SELECT count(*) FROM "{name}"')).scalar_one()  # noqa: S608
                out.append(ExpiredPartition(table, name, month, rows))
    return out


def drop_partitions(conn: Connection, partitions: Iterable[ExpiredPartition]) -> list[str]:
    """Detach and drop ``partitions`` (as returned by :func:`expired_partitions`)."""
    dropped = []
    for item in partitions:
        conn.execute(text(f'ALTER TABLE "{item.table}" DETACH PARTITION "{item.partition}"'))
        conn.execute(text(f'DROP TABLE "{item.partition}"'))
        dropped.append(item.partition)
    return dropped

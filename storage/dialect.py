"""What differs between PostgreSQL and the embedded SQLite default, in one place.

The API's queries are written once in SQLAlchemy Core; where the two stores need different
SQL (time buckets) or store values differently (SQLite keeps a timestamp
as text without its zone), the helpers here hide it, so every route gives the same answer
on both.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, DateTime, Dialect, func, literal, type_coerce
from sqlalchemy.types import TypeDecorator

Bucket = Literal["hour", "day", "week", "month"]

#: SQLite ``strftime`` patterns (and modifiers) that truncate a UTC timestamp like
#: PostgreSQL's ``date_trunc`` (weeks start on Monday, as ISO weeks do there)
_SQLITE_BUCKETS: dict[str, tuple[str, tuple[str, ...]]] = {
    "hour": ("%Y-%m-%d %H:00:00", ()),
    "day": ("%Y-%m-%d 00:00:00", ()),
    "week": ("%Y-%m-%d 00:00:00", ("-6 days", "weekday 1")),
    "month": ("%Y-%m-01 00:00:00", ()),
}


class UTCDateTime(TypeDecorator[datetime]):
    """``timestamp with time zone`` on PostgreSQL; on SQLite, text in UTC.

    SQLite has no zoned type: SQLAlchemy writes the wall-clock digits and drops the offset,
    so two events at the same instant in different zones would sort apart, and reads come
    back naive. Normalising to UTC on the way in (and labelling it UTC on the way out) keeps
    ordering, range filters and answers the same as PostgreSQL's.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if not isinstance(value, datetime):
            return value
        moment = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return moment.replace(tzinfo=None) if dialect.name == "sqlite" else moment

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if not isinstance(value, datetime):
            return value
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def time_bucket(dialect: str, bucket: Bucket, column: Any) -> ColumnElement[datetime]:
    """The start (UTC) of the ``bucket`` holding ``column``'s timestamp."""
    if dialect == "postgresql":
        expr: Any = func.date_trunc(literal(bucket), column, literal("UTC"))
    elif dialect == "sqlite":
        pattern, modifiers = _SQLITE_BUCKETS[bucket]
        expr = func.strftime(pattern, column, *modifiers)
    else:  # pragma: no cover - only the two stores are supported
        raise ValueError(f"no time buckets for {dialect}")
    return type_coerce(expr, UTCDateTime())

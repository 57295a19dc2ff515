"""What differs between PostgreSQL and the embedded SQLite default, in one place.

The API's queries are written once in SQLAlchemy Core; where the two stores need different
SQL (time buckets, JSON inspection) or store values differently (SQLite keeps a timestamp
as text without its zone), the helpers here hide it, so every route gives the same answer
on both.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, DateTime, Dialect, case, func, literal, literal_column, type_coerce
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


#: JSON types as PostgreSQL's ``json_typeof`` names them, from SQLite's ``json_type``
_SQLITE_JSON_TYPES = {"integer": "number", "real": "number", "text": "string", "true": "boolean",
                      "false": "boolean", "null": "null", "object": "object", "array": "array"}


def json_type_name(dialect: str, name: str | None) -> str:
    """A JSON value's type (``number``, ``string``, ``boolean``, ``null``, ``object``,
    ``array``) from what the store's type function returned."""
    if name is None:  # SQL NULL: the column held no JSON at all
        return "null"
    return _SQLITE_JSON_TYPES.get(name, name) if dialect == "sqlite" else name


def json_typeof(dialect: str, column: Any) -> ColumnElement[str]:
    """The JSON type of ``column`` (a ``JSON`` column), raw as the store names it; map it
    with :func:`json_type_name`. PostgreSQL's ``json_*`` functions (not ``jsonb_*``) accept
    any text the ``json`` type stored, NUL escapes included."""
    if dialect == "postgresql":
        return func.json_typeof(column)
    return func.json_type(column)


def json_object_entries(dialect: str, column: Any) -> tuple[Any, Any, Any]:
    """(table-valued function, key column, raw type column) over the entries of the JSON
    object in ``column``; a value that is not an object has no entries."""
    objects = case((json_typeof(dialect, column) == "object", column),
                   else_=literal_column("'{}'" + ("::json" if dialect == "postgresql" else "")))
    if dialect == "postgresql":
        entries = func.json_each(objects).table_valued("key", "value").alias("entries")
        return entries, entries.c.key, func.json_typeof(entries.c.value)
    entries = func.json_each(objects).table_valued("key", "type").alias("entries")
    return entries, entries.c.key, entries.c.type

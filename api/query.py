"""Query parameters shared by the routers: names, time ranges, pages and time buckets."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from fastapi import Depends, Query
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, StringConstraints
from sqlalchemy import Select, func, literal, select, tuple_
from sqlalchemy.orm import InstrumentedAttribute, Session, aliased

from api.deps import SettingsDep
from api.errors import invalid
from schemas.spec import NAME_PATTERN

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

#: names (models, versions, features, attacks) as the event schemas allow them
Name = Annotated[str, Query(pattern=NAME_PATTERN, max_length=128)]
OptionalName = Annotated[str | None, Query(pattern=NAME_PATTERN, max_length=128)]
#: a name inside a list parameter (``?model=a&model=b``)
NameItem = Annotated[str, StringConstraints(pattern=NAME_PATTERN, max_length=128)]
Bucket = Literal["hour", "day", "week", "month"]
#: hard ceiling of the page size in the schema; ``API__MAX_PAGE_SIZE`` caps it lower
HARD_MAX_PAGE = 100_000
#: PostgreSQL's timestamptz range is wider, Python's datetime is the narrower bound
_EARLIEST, _LATEST = datetime(1, 1, 2, tzinfo=UTC), datetime(9999, 12, 30, tzinfo=UTC)


def _utc(value: datetime | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise invalid(("query", name), "date-time out of range") from None
    if not _EARLIEST <= moment <= _LATEST:
        raise invalid(("query", name), "date-time out of range")
    return moment


@dataclass(frozen=True)
class TimeRange:
    """``start`` inclusive, ``end`` exclusive; a time without zone is read as UTC."""

    start: datetime | None
    end: datetime | None


def time_range(
    start: Annotated[datetime | None, Query(description="Inclusive; ISO-8601, UTC if no zone.")] = None,
    end: Annotated[datetime | None, Query(description="Exclusive; ISO-8601, UTC if no zone.")] = None,
) -> TimeRange:
    lo, hi = _utc(start, "start"), _utc(end, "end")
    if lo is not None and hi is not None and lo > hi:
        raise invalid(("query", "start"), "start must not be after end")
    return TimeRange(lo, hi)


TimeRangeDep = Annotated[TimeRange, Depends(time_range)]


def page_limit(
    settings: SettingsDep,
    limit: Annotated[int | None, Query(ge=1, le=HARD_MAX_PAGE,
                                       description="Page size; capped at API__MAX_PAGE_SIZE.")] = None,
) -> int:
    return min(limit or settings.api.default_page_size, settings.api.max_page_size)


LimitDep = Annotated[int, Depends(page_limit)]


def encode_cursor(moment: datetime, key: uuid.UUID) -> str:
    raw = json.dumps([moment.isoformat(), str(key)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """The position a cursor names; a forged or damaged one is a 422, not a 500.

    Checked strictly (exactly a zoned ISO-8601 time in range and a UUID string), so no
    value a client can forge reaches the database as something it cannot compare.
    """
    bad = invalid(("query", "cursor"), "not a cursor this API returned")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        decoded = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
        raise bad from None
    if (not isinstance(decoded, list) or len(decoded) != 2
            or not all(isinstance(part, str) for part in decoded)):
        raise bad
    moment, key = decoded
    try:
        parsed = datetime.fromisoformat(moment)
        position = uuid.UUID(key)
    except ValueError:
        raise bad from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise bad
    try:
        return _utc(parsed, "cursor") or parsed, position
    except RequestValidationError:
        raise bad from None


Cursor = Annotated[str | None, Query(max_length=256, description="next_cursor of the previous page.")]


class Page(BaseModel, Generic[T]):
    items: list[T]
    #: pass as ``cursor`` to get the next page; absent on the last page
    next_cursor: str | None = None


def scoped(stmt: Select[Any], moment: InstrumentedAttribute[Any], window: TimeRange,
           *equal: tuple[InstrumentedAttribute[Any], Any]) -> Select[Any]:
    """``stmt`` limited to ``window`` on the column ``moment`` and, for each (column, value)
    pair whose value was given, to rows where the column equals it."""
    for column, value in equal:
        if value is not None:
            stmt = stmt.where(column == value)
    if window.start is not None:
        stmt = stmt.where(moment >= window.start)
    if window.end is not None:
        stmt = stmt.where(moment < window.end)
    return stmt


def keyset_page(session: Session, stmt: Select[Any], out: type[M],
                moment: InstrumentedAttribute[Any], key: InstrumentedAttribute[Any],
                limit: int, cursor: str | None) -> Page[M]:
    """One page of ``stmt``'s rows, newest ``moment`` first (``key`` breaks ties), after the
    position ``cursor`` names; ``next_cursor`` is set when more rows follow."""
    if cursor is not None:
        at, after = decode_cursor(cursor)
        # typed like the columns, so each store compares them as it stores them
        stmt = stmt.where(tuple_(moment, key) < tuple_(literal(at, moment.type), literal(after, key.type)))
    rows = session.scalars(stmt.order_by(moment.desc(), key.desc()).limit(limit + 1)).all()
    more, rows = len(rows) > limit, rows[:limit]
    last = rows[-1] if more else None
    return Page[out](  # type: ignore[valid-type]
        items=[out.model_validate(r) for r in rows],
        next_cursor=(encode_cursor(getattr(last, moment.key), getattr(last, key.key))
                     if last is not None else None))


def latest_per_group(session: Session, stmt: Select[Any], entity: type[T],
                     group: tuple[InstrumentedAttribute[Any], ...],
                     newest: tuple[InstrumentedAttribute[Any], ...]) -> list[T]:
    """The newest row (by ``newest``, descending) of each ``group`` among ``stmt``'s rows
    (a ``select`` of ``entity``), ordered by the group.

    A window function, not PostgreSQL's ``DISTINCT ON`` (which SQLite ignores, answering
    every row), so both stores give one row per group.
    """
    rank = func.row_number().over(partition_by=group, order_by=[c.desc() for c in newest])
    ranked = stmt.add_columns(rank.label("rank_in_group")).subquery()
    row = aliased(entity, ranked)
    columns = [getattr(row, c.key) for c in group]
    return list(session.scalars(select(row).where(ranked.c.rank_in_group == 1).order_by(*columns)))

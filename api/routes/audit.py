"""The audit log of mutating calls (admin only)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from sqlalchemy import select, tuple_

from api.deps import AdminDep, SessionDep
from api.errors import AUTH_RESPONSES
from api.models import AuditEntryOut
from api.query import Cursor, LimitDep, Page, TimeRangeDep, decode_cursor, encode_cursor
from storage.service import AuditEntry

router = APIRouter(prefix="/audit", tags=["audit"], responses=AUTH_RESPONSES)


@router.get("", response_model=Page[AuditEntryOut], summary="Audit entries, newest first")
def list_entries(
    session: SessionDep, _: AdminDep, window: TimeRangeDep, limit: LimitDep,
    actor: Annotated[str | None, Query(max_length=128, pattern=r"^[\w.@:/-]+$")] = None,
    action: Annotated[str | None, Query(max_length=256, pattern=r"^[\w ./{}@:-]+$",
                                        description="e.g. `POST /red-team/results`")] = None,
    method: Literal["POST", "PUT", "PATCH", "DELETE"] | None = None,
    status_code: Annotated[int | None, Query(ge=100, le=599)] = None,
    outcome: Literal["success", "denied", "rejected", "error"] | None = None,
    request_id: Annotated[str | None, Query(max_length=128, pattern=r"^[A-Za-z0-9._:-]+$")] = None,
    cursor: Cursor = None,
) -> Page[AuditEntryOut]:
    stmt = select(AuditEntry)
    for column, value in ((AuditEntry.actor, actor), (AuditEntry.action, action),
                          (AuditEntry.method, method), (AuditEntry.status_code, status_code),
                          (AuditEntry.outcome, outcome), (AuditEntry.request_id, request_id)):
        if value is not None:
            stmt = stmt.where(column == value)
    if window.start is not None:
        stmt = stmt.where(AuditEntry.timestamp >= window.start)
    if window.end is not None:
        stmt = stmt.where(AuditEntry.timestamp < window.end)
    if cursor is not None:
        stmt = stmt.where(tuple_(AuditEntry.timestamp, AuditEntry.id) < tuple_(*decode_cursor(cursor)))
    rows = session.scalars(stmt.order_by(AuditEntry.timestamp.desc(), AuditEntry.id.desc())
                           .limit(limit + 1)).all()
    more, rows = len(rows) > limit, rows[:limit]
    return Page[AuditEntryOut](
        items=[AuditEntryOut.model_validate(r) for r in rows],
        next_cursor=encode_cursor(rows[-1].timestamp, rows[-1].id) if more else None)

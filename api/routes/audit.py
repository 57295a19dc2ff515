"""The audit log of mutating calls (admin only)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from sqlalchemy import select

from api.deps import AdminDep, SessionDep
from api.errors import AUTH_RESPONSES
from api.models import AuditEntryOut
from api.query import (
    Cursor,
    LimitDep,
    Page,
    TimeRangeDep,
    keyset_page,
    scoped,
)
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
    t = AuditEntry
    stmt = scoped(select(t), t.timestamp, window, (t.actor, actor), (t.action, action),
                  (t.method, method), (t.status_code, status_code), (t.outcome, outcome),
                  (t.request_id, request_id))
    return keyset_page(session, stmt, AuditEntryOut, t.timestamp, t.id, limit, cursor)

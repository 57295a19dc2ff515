"""Drift analytics: counts by feature and severity, overall and per time bucket."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import case, func, select

from api.deps import SessionDep, ViewerDep
from api.errors import AUTH_RESPONSES
from api.models import DriftSummaryOut, DriftSummaryRow, DriftTrendPoint
from api.query import Bucket, LimitDep, OptionalName, TimeRange, TimeRangeDep, scoped
from storage.dialect import time_bucket
from storage.models import DriftResult as DR

router = APIRouter(prefix="/analytics", tags=["analytics"], responses=AUTH_RESPONSES)


def _scoped(stmt, model: str | None, feature: str | None, window: TimeRange):  # type: ignore[no-untyped-def]
    return scoped(stmt, DR.timestamp, window, (DR.model_name, model), (DR.feature, feature))


_drifted = func.coalesce(func.sum(case((DR.drifted, 1), else_=0)), 0)


@router.get("/drift/summary", response_model=DriftSummaryOut,
            summary="Drift results and drifted results by model, feature and severity")
def drift_summary(session: SessionDep, _: ViewerDep, window: TimeRangeDep, limit: LimitDep,
                  model: OptionalName = None, feature: OptionalName = None) -> DriftSummaryOut:
    totals = session.execute(_scoped(
        select(func.count().label("n"), _drifted.label("drifted")), model, feature, window)).one()
    stmt = _scoped(select(DR.model_name, DR.feature, DR.severity, func.count().label("results"),
                          _drifted.label("drifted")), model, feature, window)
    stmt = (stmt.group_by(DR.model_name, DR.feature, DR.severity)
            .order_by(_drifted.desc(), DR.model_name, DR.feature, DR.severity).limit(limit))
    return DriftSummaryOut(
        total_results=totals.n, drifted_results=totals.drifted,
        rows=[DriftSummaryRow.model_validate(r, from_attributes=True) for r in session.execute(stmt)])


@router.get("/drift/trends", response_model=list[DriftTrendPoint],
            summary="Drift results by time bucket, model, feature and severity")
def drift_trends(session: SessionDep, _: ViewerDep, window: TimeRangeDep, limit: LimitDep,
                 model: OptionalName = None, feature: OptionalName = None,
                 bucket: Bucket = "day") -> list[DriftTrendPoint]:
    start = time_bucket(session.get_bind().dialect.name, bucket, DR.timestamp).label("bucket_start")
    stmt = _scoped(select(start, DR.model_name, DR.feature, DR.severity,
                          func.count().label("results"), _drifted.label("drifted")),
                   model, feature, window)
    stmt = (stmt.group_by(start, DR.model_name, DR.feature, DR.severity)
            .order_by(start, DR.model_name, DR.feature, DR.severity).limit(limit))
    return [DriftTrendPoint.model_validate(r, from_attributes=True) for r in session.execute(stmt)]

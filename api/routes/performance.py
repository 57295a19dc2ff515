"""Model performance over time (``performance_metrics``), and versions or models side by side."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import case, func, select

from api.deps import SessionDep, ViewerDep
from api.errors import AUTH_RESPONSES
from api.models import PerformanceComparisonRow, PerformanceTrendPoint
from api.query import (
    Bucket,
    LimitDep,
    Name,
    NameItem,
    OptionalName,
    TimeRange,
    TimeRangeDep,
    latest_per_group,
    scoped,
)
from storage.dialect import time_bucket
from storage.models import PerformanceMetric as PM

router = APIRouter(prefix="/performance", tags=["performance"], responses=AUTH_RESPONSES)


def _in_window(stmt, window: TimeRange):  # type: ignore[no-untyped-def]
    return scoped(stmt, PM.timestamp, window)


@router.get("/trends", response_model=list[PerformanceTrendPoint],
            summary="One metric of one model per time bucket and version: realized on joined "
                    "labels and estimated without them, side by side")
def trends(session: SessionDep, _: ViewerDep, window: TimeRangeDep, limit: LimitDep,
           model: Name, metric: Name, version: OptionalName = None,
           bucket: Bucket = "day") -> list[PerformanceTrendPoint]:
    start = time_bucket(session.get_bind().dialect.name, bucket, PM.timestamp).label("bucket_start")
    stmt = (select(start, PM.model_version, PM.estimated, func.count().label("windows"),
                   func.coalesce(func.sum(PM.sample_size), 0).label("samples"),
                   func.avg(PM.value).label("mean"), func.min(PM.value).label("min"),
                   func.max(PM.value).label("max"), func.min(PM.lower).label("lower"),
                   func.max(PM.upper).label("upper"))
            .where(PM.model_name == model, PM.metric == metric))
    if version is not None:
        stmt = stmt.where(PM.model_version == version)
    stmt = (_in_window(stmt, window).group_by(start, PM.model_version, PM.estimated)
            .order_by(start, PM.model_version))
    points: dict[tuple[object, str], dict[str, object]] = {}
    for row in session.execute(stmt):
        point = points.setdefault((row.bucket_start, row.model_version), {
            "bucket_start": row.bucket_start, "model_version": row.model_version,
            "windows": 0, "samples": 0, "mean": None, "min": None, "max": None})
        if row.estimated:
            point.update(estimated_windows=row.windows, estimated_samples=row.samples,
                         estimated_mean=row.mean, estimated_min=row.min,
                         estimated_max=row.max, estimated_lower=row.lower,
                         estimated_upper=row.upper)
        else:
            point.update(windows=row.windows, samples=row.samples, mean=row.mean, min=row.min,
                         max=row.max)
    return [PerformanceTrendPoint.model_validate(p) for p in list(points.values())[:limit]]


@router.get("/compare", response_model=list[PerformanceComparisonRow],
            summary="One metric, per version of the given models, side by side")
def compare(
    session: SessionDep, _: ViewerDep, window: TimeRangeDep, metric: Name,
    model: Annotated[list[NameItem], Query(min_length=1, max_length=20,
                                           description="One model to compare its versions, or several.")],
    version: Annotated[list[NameItem] | None, Query(max_length=50,
                                                    description="Only these versions.")] = None,
) -> list[PerformanceComparisonRow]:
    def narrowed(stmt):  # type: ignore[no-untyped-def]
        # realized metrics only: estimates are compared in /performance/trends
        stmt = stmt.where(PM.metric == metric, PM.model_name.in_(model), PM.estimated.is_(False))
        if version:
            stmt = stmt.where(PM.model_version.in_(version))
        return _in_window(stmt, window)

    weighted = (func.sum(PM.value * PM.sample_size)
                / func.nullif(func.sum(case((PM.value.isnot(None), PM.sample_size), else_=0)), 0))
    stmt = narrowed(select(
        PM.model_name, PM.model_version, func.count().label("windows"),
        func.coalesce(func.sum(PM.sample_size), 0).label("samples"),
        func.avg(PM.value).label("mean"), weighted.label("weighted_mean"),
        func.min(PM.value).label("min"), func.max(PM.value).label("max"),
        func.min(PM.timestamp).label("first_at"), func.max(PM.timestamp).label("latest_at"),
    )).group_by(PM.model_name, PM.model_version)
    newest = latest_per_group(session, narrowed(select(PM)), PM, (PM.model_name, PM.model_version),
                              (PM.timestamp, PM.event_id))
    latest = {(r.model_name, r.model_version): r.value for r in newest}
    return [PerformanceComparisonRow(**row._mapping, latest=latest.get((row.model_name, row.model_version)))
            for row in session.execute(stmt.order_by(PM.model_name, PM.model_version))]

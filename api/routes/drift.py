"""Drift history, the latest state of a model, and detection on uploaded files."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, HTTPException, Request, UploadFile
from sqlalchemy import select

from api.deps import SessionDep, ViewerDep
from api.detection import DetectionError, detect, read_table
from api.errors import AUTH_RESPONSES, error_response, invalid
from api.models import DetectReportOut, DriftKind, DriftResultOut, LatestDriftOut, Severity
from api.query import (
    Cursor,
    LimitDep,
    Name,
    OptionalName,
    Page,
    TimeRangeDep,
    keyset_page,
    latest_per_group,
    scoped,
)
from storage.models import DriftResult

router = APIRouter(prefix="/drift", tags=["drift"], responses=AUTH_RESPONSES)


@router.get("/results", response_model=Page[DriftResultOut], summary="Drift history, newest first")
def list_results(
    session: SessionDep, _: ViewerDep, window: TimeRangeDep, limit: LimitDep,
    model: OptionalName = None, version: OptionalName = None, feature: OptionalName = None,
    kind: DriftKind | None = None, severity: Severity | None = None, drifted: bool | None = None,
    cursor: Cursor = None,
) -> Page[DriftResultOut]:
    t = DriftResult
    stmt = scoped(select(t), t.timestamp, window, (t.model_name, model), (t.model_version, version),
                  (t.feature, feature), (t.kind, kind), (t.severity, severity), (t.drifted, drifted))
    return keyset_page(session, stmt, DriftResultOut, t.timestamp, t.event_id, limit, cursor)


@router.get("/latest", response_model=LatestDriftOut,
            responses={404: error_response("No drift result for the model.")},
            summary="The latest result per feature of one model")
def latest(session: SessionDep, _: ViewerDep, model: Name,
           version: OptionalName = None) -> LatestDriftOut:
    t = DriftResult
    stmt = select(t).where(t.model_name == model)
    if version is not None:
        stmt = stmt.where(t.model_version == version)
    rows = latest_per_group(session, stmt, t, (t.kind, t.feature), (t.timestamp, t.event_id))
    if not rows:
        raise HTTPException(404, f"no drift results for model {model!r}"
                            + (f" version {version!r}" if version else ""))
    return LatestDriftOut(
        model_name=model, as_of=max(r.timestamp for r in rows),
        drifted_features=sum(r.drifted for r in rows),
        results=[DriftResultOut.model_validate(r) for r in rows])


@router.get("/models", response_model=list[str], summary="Models with drift history")
def models(session: SessionDep, _: ViewerDep, limit: LimitDep) -> list[str]:
    return list(session.scalars(select(DriftResult.model_name).group_by(DriftResult.model_name)
                                .order_by(DriftResult.model_name).limit(limit)))


@router.post(
    "/detect", response_model=DetectReportOut,
    responses={413: error_response("Upload larger than API__MAX_UPLOAD_BYTES."),
               429: error_response("API__MAX_CONCURRENT_UPLOADS uploads are being compared; "
                                   "see Retry-After.")},
    summary="Compare two uploaded tables (CSV or Parquet), as `driftline detect` does",
)
def detect_files(
    request: Request, _: ViewerDep,
    reference: Annotated[UploadFile, File(description="Reference table, CSV or Parquet.")],
    current: Annotated[UploadFile, File(description="Current table, CSV or Parquet.")],
    alpha: Annotated[float, Form(gt=0.0, lt=1.0)] = 0.05,
    features: Annotated[str | None, Form(
        max_length=10_000, description="Comma-separated columns; all shared ones if absent.")] = None,
    categorical: Annotated[str | None, Form(
        max_length=10_000, description="Comma-separated columns to treat as categories.")] = None,
) -> DetectReportOut:
    def names(value: str | None) -> list[str]:
        return [n.strip() for n in (value or "").split(",") if n.strip()]

    with request.app.state.uploads.claim() as free:
        if not free:
            # the client's to wait for (as for a rate limit): 429, not a server fault
            raise HTTPException(429, "too many uploads being compared; retry shortly",
                                headers={"Retry-After": "5"})
        ref = cur = None
        try:
            ref = read_table(reference.file, reference.filename, "reference")
            cur = read_table(current.file, current.filename, "current")
            report = detect(ref, cur, alpha=alpha, features=names(features),
                            categorical=names(categorical))
        except DetectionError as exc:
            raise invalid(("body",), str(exc)) from None
        finally:
            ref = cur = None  # dropped before the slot hands their memory back
    request.state.audit_details = {"features": len(report["features"]),
                                   "dataset_drift": report["dataset_drift"]}
    return DetectReportOut.model_validate(report)


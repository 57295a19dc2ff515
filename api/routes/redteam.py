"""Red-team results: ingestion (the API twin of the ``red-team-results`` topic) and analysis."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from sqlalchemy import case, func, select

from api.deps import EngineDep, OperatorDep, SessionDep, SettingsDep, ViewerDep
from api.errors import AUTH_RESPONSES, error_response, invalid
from api.models import (
    RedTeamBatchIn,
    RedTeamIngestOut,
    RedTeamResultOut,
    RedTeamSeverity,
    RegressionRow,
    RegressionsOut,
    SuccessRateRow,
    TopAttackRow,
)
from api.query import (
    Bucket,
    Cursor,
    LimitDep,
    Name,
    OptionalName,
    Page,
    TimeRange,
    TimeRangeDep,
    keyset_page,
    scoped,
)
from schemas.redteam import RedTeamResult, check_storable
from schemas.spec import InvalidEvent, validate
from storage.dialect import time_bucket
from storage.repository import save_red_team_results
from storage.service import RedTeamRow as RT

router = APIRouter(prefix="/red-team", tags=["red team"], responses=AUTH_RESPONSES)

_successes = func.coalesce(func.sum(case((RT.success, 1), else_=0)), 0)


def _scoped(stmt, window: TimeRange, **equal: Any):  # type: ignore[no-untyped-def]
    return scoped(stmt, RT.timestamp, window, *((getattr(RT, c), v) for c, v in equal.items()))


@router.post("/results", status_code=201, response_model=RedTeamIngestOut,
             responses={413: error_response("Body over API__MAX_REQUEST_BYTES.")},
             summary="Store security-test results (idempotent on event_id)")
def ingest(request: Request, body: RedTeamBatchIn, _: OperatorDep, engine: EngineDep,
           settings: SettingsDep) -> RedTeamIngestOut:
    limits = settings.limits.for_events()
    now = datetime.now(UTC).isoformat()
    records = []
    for i, item in enumerate(body.results):
        wire = item.model_dump(mode="json", exclude_none=True)
        wire.setdefault("event_id", str(uuid.uuid4()))
        wire.setdefault("timestamp", now)
        try:
            record = check_storable(RedTeamResult(**validate(wire, RedTeamResult.FIELDS, limits)))
            size = len(record.dumps())
            if size > limits.max_payload_bytes:  # the topic's bound: one limit per record
                raise InvalidEvent(f"result of {size} bytes exceeds {limits.max_payload_bytes} "
                                   "(LIMITS__MAX_PAYLOAD_BYTES)")
        except InvalidEvent as exc:
            raise invalid(("body", "results", i), exc.reason) from None
        if record.details is not None:
            record = RedTeamResult(**{**record.asdict(), "details": request.app.state.redact(record.details)})
        records.append(record)
    inserted = save_red_team_results(engine, records, source="api", retries=settings.database.retries)
    request.state.audit_details = {"received": len(records), "inserted": inserted}
    return RedTeamIngestOut(received=len(records), inserted=inserted,
                            event_ids=[uuid.UUID(r.event_id) for r in records])


@router.get("/results", response_model=Page[RedTeamResultOut], summary="Results, newest first")
def list_results(
    session: SessionDep, _: ViewerDep, window: TimeRangeDep, limit: LimitDep,
    model: OptionalName = None, version: OptionalName = None, attack_type: OptionalName = None,
    success: bool | None = None, severity: RedTeamSeverity | None = None, cursor: Cursor = None,
) -> Page[RedTeamResultOut]:
    stmt = _scoped(select(RT), window, model_name=model, model_version=version,
                   attack_type=attack_type, success=success, severity=severity)
    return keyset_page(session, stmt, RedTeamResultOut, RT.timestamp, RT.event_id, limit, cursor)


@router.get("/analysis/success-rates", response_model=list[SuccessRateRow],
            summary="Success rate by attack type and model version, optionally per time bucket")
def success_rates(session: SessionDep, _: ViewerDep, window: TimeRangeDep, limit: LimitDep,
                  model: OptionalName = None, version: OptionalName = None,
                  attack_type: OptionalName = None, bucket: Bucket | None = None) -> list[SuccessRateRow]:
    keys: list[Any] = [RT.model_name, RT.model_version, RT.attack_type]
    if bucket is not None:
        keys.insert(0, time_bucket(session.get_bind().dialect.name, bucket, RT.timestamp)
                    .label("bucket_start"))
    stmt = _scoped(select(*keys, func.count().label("attempts"), _successes.label("successes")),
                   window, model_name=model, model_version=version, attack_type=attack_type)
    stmt = stmt.group_by(*keys).order_by(*keys).limit(limit)
    return [SuccessRateRow(bucket_start=row._mapping.get("bucket_start"), model_name=row.model_name,
                           model_version=row.model_version, attack_type=row.attack_type,
                           attempts=row.attempts, successes=row.successes,
                           success_rate=row.successes / row.attempts)
            for row in session.execute(stmt)]


@router.get("/analysis/top-attacks", response_model=list[TopAttackRow],
            summary="The most effective attacks: highest success rate first")
def top_attacks(session: SessionDep, _: ViewerDep, window: TimeRangeDep,
                model: OptionalName = None, version: OptionalName = None,
                min_attempts: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
                limit: Annotated[int, Query(ge=1, le=1000)] = 10) -> list[TopAttackRow]:
    rate = _successes * 1.0 / func.count()
    models = func.count(func.distinct(case((RT.success, RT.model_name))))
    stmt = _scoped(select(RT.attack_type, RT.attack_name, func.count().label("attempts"),
                          _successes.label("successes"), models.label("models")),
                   window, model_name=model, model_version=version)
    stmt = (stmt.group_by(RT.attack_type, RT.attack_name).having(func.count() >= min_attempts)
            .order_by(rate.desc(), _successes.desc(), RT.attack_type, RT.attack_name).limit(limit))
    return [TopAttackRow(attack_type=r.attack_type, attack_name=r.attack_name, attempts=r.attempts,
                         successes=r.successes, success_rate=r.successes / r.attempts, models=r.models)
            for r in session.execute(stmt)]


@router.get("/analysis/regressions", response_model=RegressionsOut,
            summary="Attacks that always failed on one version and succeed on another")
def regressions(session: SessionDep, _: ViewerDep, window: TimeRangeDep, model: Name,
                from_version: Name, to_version: Name) -> RegressionsOut:
    if from_version == to_version:
        raise invalid(("query", "to_version"), "to_version must differ from from_version")
    stmt = _scoped(select(RT.model_version, RT.attack_type, RT.attack_name,
                          func.count().label("attempts"), _successes.label("successes")),
                   window, model_name=model).where(RT.model_version.in_([from_version, to_version]))
    stats: dict[tuple[str, str | None], dict[str, Any]] = {}
    for r in session.execute(stmt.group_by(RT.model_version, RT.attack_type, RT.attack_name)):
        stats.setdefault((r.attack_type, r.attack_name), {})[r.model_version] = r
    found = []
    for (attack_type, attack_name), by_version in sorted(stats.items(),
                                                         key=lambda kv: (kv[0][0], kv[0][1] or "")):
        before, after = by_version.get(from_version), by_version.get(to_version)
        if before is not None and after is not None and before.successes == 0 and after.successes > 0:
            found.append(RegressionRow(
                attack_type=attack_type, attack_name=attack_name,
                from_attempts=before.attempts, from_successes=0, to_attempts=after.attempts,
                to_successes=after.successes, to_success_rate=after.successes / after.attempts))
    return RegressionsOut(model_name=model, from_version=from_version, to_version=to_version,
                          regressions=found)

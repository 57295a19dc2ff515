"""Retraining: the retrain agent's decisions, manual triggers, and training jobs.

A manual trigger is not decided here. It is published to ``retrain-triggers``, which the
retrain agent reads in the same stream as drift events, so the ledger (a changelog-backed
table the worker owns) stays the one authority on cooldowns and daily limits; the decision
appears under ``GET /retrain/requests/{decision_id}`` once the agent has made it.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.deps import EngineDep, OperatorDep, SessionDep, SettingsDep, ViewerDep
from api.errors import AUTH_RESPONSES, error_response, invalid
from api.models import (
    JobCancelIn,
    JobStatus,
    RetrainDecision,
    RetrainJobOut,
    RetrainRequestOut,
    RetrainTriggerIn,
    RetrainTriggerOut,
    TriggerKind,
)
from api.publisher import PublishFailed
from api.query import (
    Cursor,
    LimitDep,
    OptionalName,
    Page,
    TimeRangeDep,
    keyset_page,
    scoped,
)
from governance import ledger
from governance.messages import job_event
from integrations.trainer import JobState, TrainerClient, TrainerRejected, TrainerUnavailable
from resilience.retry import Backoff, CircuitOpen
from schemas.governance import TERMINAL_JOB_STATUSES, RetrainTrigger
from schemas.spec import NAME_PATTERN, SCHEMA_VERSION, InvalidEvent, validate
from settings import Settings
from storage.governance import RetrainJobRow, RetrainRequestRow
from storage.governance_repository import save_training_jobs
from storage.models import DriftResult

log = logging.getLogger(__name__)
router = APIRouter(prefix="/retrain", tags=["retrain"], responses=AUTH_RESPONSES)
JobId = Annotated[str, Path(pattern=NAME_PATTERN, max_length=128)]
#: how long a cancel waits for the training service to confirm (it stops between steps)
CANCEL_CONFIRM_SECONDS = 5.0


# -- decisions ------------------------------------------------------------------------------

@router.get("/requests", response_model=Page[RetrainRequestOut],
            summary="Retrain decisions with their reasons, newest first")
def list_requests(
    session: SessionDep, _: ViewerDep, window: TimeRangeDep, limit: LimitDep,
    model: OptionalName = None, version: OptionalName = None,
    decision: RetrainDecision | None = None, trigger_kind: TriggerKind | None = None,
    request_id: uuid.UUID | None = None, cursor: Cursor = None,
) -> Page[RetrainRequestOut]:
    t = RetrainRequestRow
    stmt = scoped(select(t), t.timestamp, window, (t.model_name, model), (t.model_version, version),
                  (t.decision, decision), (t.trigger_kind, trigger_kind), (t.request_id, request_id))
    return keyset_page(session, stmt, RetrainRequestOut, t.timestamp, t.event_id, limit, cursor)


@router.get("/requests/{decision_id}", response_model=RetrainRequestOut,
            operation_id="get_retrain_decision",
            responses={404: error_response("No such decision (yet: a trigger is decided within seconds "
                                   "while a worker runs).")},
            summary="One decision, e.g. the one a manual trigger announced")
def get_request(decision_id: uuid.UUID, session: SessionDep, _: ViewerDep) -> RetrainRequestOut:
    row = session.get(RetrainRequestRow, decision_id)
    if row is None:
        raise HTTPException(404, f"no retrain decision {decision_id}")
    return RetrainRequestOut.model_validate(row)


def _latest_version(engine: Engine, model: str) -> str | None:
    with Session(engine) as session:
        return session.scalar(select(DriftResult.model_version)
                              .where(DriftResult.model_name == model)
                              .order_by(DriftResult.timestamp.desc()).limit(1))


@router.post(
    "/requests", status_code=202, response_model=RetrainTriggerOut,
    responses={503: error_response("Kafka (or the database) is unavailable; the trigger was not queued."),
               202: {"description": "Queued; the decision will appear under its id.", "links": {
                   "Decision": {"operationId": "get_retrain_decision",
                                "parameters": {"decision_id": "$response.body#/decision_id"}}}}},
    summary="Ask for a retrain; decided by the retrain agent under the usual cooldown and limit",
)
async def trigger_retrain(request: Request, response: Response, body: RetrainTriggerIn,
                          principal: OperatorDep, settings: SettingsDep,
                          engine: EngineDep) -> RetrainTriggerOut:
    version = body.model_version or await run_in_threadpool(
        _latest_version, engine, body.model_name) or "unknown"
    wire = {"event_id": str(uuid.uuid4()), "schema_version": SCHEMA_VERSION,
            "model_name": body.model_name, "model_version": version,
            "timestamp": datetime.now(UTC).isoformat(), "kind": "manual",
            "requested_by": principal.name, "reason": body.reason}
    try:
        record = RetrainTrigger(**validate(wire, RetrainTrigger.FIELDS,
                                           settings.limits.for_events()))
    except InvalidEvent as exc:  # the event limits may be stricter than the body's
        raise invalid(("body",), exc.reason) from None
    decision = ledger.decision_id(settings.app_id, ledger.manual_trigger(record))
    request.state.audit_details = {"model": record.model_name, "trigger_id": record.event_id,
                                   "decision_id": decision, "requested_by": principal.name}
    topic = settings.kafka.topics.name("retrain_triggers")
    try:
        await request.app.state.publisher.send([(topic, record.model_name.encode(),
                                                 record.dumps())])
    except PublishFailed as exc:
        raise HTTPException(503, f"the trigger was not queued: {exc}") from None
    response.headers["Location"] = f"/retrain/requests/{decision}"
    return RetrainTriggerOut(trigger_id=uuid.UUID(record.event_id), decision_id=uuid.UUID(decision),
                             model_name=record.model_name, model_version=version,
                             requested_by=principal.name)


# -- the retrain queue ----------------------------------------------------------------------

class QueuedRequestOut(BaseModel):
    """An accepted request waiting in the worker's durable queue for the training service."""

    position: int = Field(description="1 is submitted next (per the order below).")
    request_id: uuid.UUID
    model_name: str
    model_version: str
    registered_model: str
    trigger_kind: str
    severity: str
    priority: int = Field(description="Kind then severity: larger goes first.")
    requested_at: datetime
    waiting_since: datetime


class RetrainQueueOut(BaseModel):
    items: list[QueuedRequestOut]
    max_concurrent_jobs: int
    max_concurrent_jobs_per_model: int


@router.get("/queue", response_model=RetrainQueueOut,
            summary="Accepted requests waiting for the training service, in the order they "
                    "will be served (priority: performance drop > model drift > data drift, "
                    "then severity, then age)")
def retrain_queue(session: SessionDep, _: ViewerDep, settings: SettingsDep, limit: LimitDep,
                  model: OptionalName = None) -> RetrainQueueOut:
    job, req = RetrainJobRow, RetrainRequestRow
    stmt = (select(job, req).join(req, req.event_id == job.request_id)
            .where(job.status == "waiting"))
    if model is not None:
        stmt = stmt.where(job.model_name == model)
    rows = session.execute(stmt.order_by(req.priority.desc(), req.timestamp, req.event_id)
                           .limit(limit)).all()
    items = [QueuedRequestOut(
        position=i + 1, request_id=j.request_id, model_name=j.model_name,
        model_version=j.model_version, registered_model=j.registered_model,
        trigger_kind=r.trigger_kind, severity=r.severity, priority=r.priority,
        requested_at=r.timestamp, waiting_since=j.created_at) for i, (j, r) in enumerate(rows)]
    return RetrainQueueOut(items=items,
                           max_concurrent_jobs=settings.retrain.max_concurrent_jobs,
                           max_concurrent_jobs_per_model=settings.retrain
                           .max_concurrent_jobs_per_model)


# -- training jobs --------------------------------------------------------------------------

@router.get("/jobs", response_model=Page[RetrainJobOut],
            summary="Training jobs (latest state each), most recently updated first")
def list_jobs(session: SessionDep, _: ViewerDep, window: TimeRangeDep, limit: LimitDep,
              model: OptionalName = None, status: JobStatus | None = None,
              cursor: Cursor = None) -> Page[RetrainJobOut]:
    t = RetrainJobRow
    stmt = scoped(select(t), t.updated_at, window, (t.model_name, model), (t.status, status))
    return keyset_page(session, stmt, RetrainJobOut, t.updated_at, t.request_id, limit, cursor)


def _job(engine: Engine, job_id: str) -> RetrainJobRow | None:
    with Session(engine) as session:
        return session.scalars(select(RetrainJobRow).where(RetrainJobRow.job_id == job_id)
                               .order_by(RetrainJobRow.updated_at.desc()).limit(1)).first()


@router.get("/jobs/{job_id}", response_model=RetrainJobOut,
            responses={404: error_response("No job with that id.")}, summary="One training job")
async def get_job(job_id: JobId, engine: EngineDep, _: ViewerDep) -> RetrainJobOut:
    row = await run_in_threadpool(_job, engine, job_id)
    if row is None:
        raise HTTPException(404, f"no training job {job_id!r}")
    return RetrainJobOut.model_validate(row)


def _trainer(settings: Settings) -> TrainerClient:
    t = settings.trainer
    # one retry: a person is waiting, and can ask again
    return TrainerClient(t.url, timeout=t.timeout, retries=min(t.retries, 1),
                         backoff=Backoff(base=t.backoff_base, cap=t.backoff_max))


async def _cancel(settings: Settings, job_id: str) -> JobState:
    """Ask the training service to cancel, then wait briefly for it to confirm."""
    async with _trainer(settings) as client:
        state = await client.cancel(job_id)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + CANCEL_CONFIRM_SECONDS
        while state.status not in TERMINAL_JOB_STATUSES and loop.time() < deadline:
            await asyncio.sleep(0.2)
            state = await client.status(job_id)
        return state


@router.post(
    "/jobs/{job_id}/cancel", response_model=RetrainJobOut,
    responses={404: error_response("No job with that id."),
               409: error_response("The job has finished already (or the training service lost it)."),
               503: error_response("The training service (or the database) is unavailable.")},
    summary="Cancel a training job on the training service and record it",
)
async def cancel_job(request: Request, job_id: JobId, principal: OperatorDep,
                     settings: SettingsDep, engine: EngineDep,
                     body: JobCancelIn | None = None) -> RetrainJobOut:
    row = await run_in_threadpool(_job, engine, job_id)
    if row is None:
        raise HTTPException(404, f"no training job {job_id!r}")
    request.state.audit_details = {"job_id": job_id, "request_id": str(row.request_id),
                                   "model": row.model_name}
    if row.status in TERMINAL_JOB_STATUSES:
        raise HTTPException(409, f"job {job_id} already {row.status}")
    try:
        state = await _cancel(settings, job_id)
    except TrainerRejected as exc:
        if exc.status == 404:
            raise HTTPException(409, f"the training service no longer knows job {job_id} (it "
                                "may have restarted); the worker marks it failed") from None
        log.error("training service refused to cancel %s: %s", job_id, exc)
        raise HTTPException(502, "the training service refused the cancellation") from None
    except (TrainerUnavailable, CircuitOpen):
        raise HTTPException(503, "the training service is unavailable") from None
    if state.status != "cancelled" and state.status in TERMINAL_JOB_STATUSES:
        # the poller records the real outcome; claiming a cancellation would be false
        raise HTTPException(409, f"job {job_id} {state.status} before it could be cancelled")
    message = f"cancelled by {principal.name} through the API"
    if body is not None and body.reason:
        message += f": {body.reason}"
    if state.status != "cancelled":
        message += f" (the training service said {state.status!r}; it stops at its next step)"
    job = job_event(request={"request_id": str(row.request_id), "model_name": row.model_name,
                             "model_version": row.model_version,
                             "registered_model": row.registered_model},
                    job_id=job_id, status="cancelled", progress=state.progress, message=message,
                    now=datetime.now(UTC))
    try:
        await request.app.state.publisher.send([(settings.kafka.topics.name("training_jobs"),
                                                 row.model_name.encode(), job.dumps())])
    except PublishFailed:
        # the worker's poller still follows the job and will publish its cancelled state
        log.warning("cancelled job %s not announced on training-jobs", job_id)
    await run_in_threadpool(save_training_jobs, engine, [job])
    updated = await run_in_threadpool(_job, engine, job_id)
    return RetrainJobOut.model_validate(updated)

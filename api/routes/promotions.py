"""Promotions: the decision history, and an admin's manual promote and rollback.

Manual decisions go through :mod:`governance.interventions`, the code ``driftline model
rollback`` runs: aliases move in MLflow, the decision is published to ``promotion-events``
(and so mailed) and stored with the admin's key name as its actor.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Request
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from starlette.concurrency import run_in_threadpool

from api.deps import AdminDep, EngineDep, SessionDep, SettingsDep, ViewerDep
from api.errors import AUTH_RESPONSES, error_response
from api.models import PromoteIn, PromotionActionOut, PromotionDecision, PromotionOut, RollbackIn
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
from governance import interventions
from integrations.health import probe_mlflow
from integrations.registry import ModelRegistry, NothingToRollBack, UnknownModel
from schemas.governance import PromotionEvent
from schemas.spec import NAME_PATTERN
from storage.governance import PromotionDecisionRow
from storage.governance_repository import save_promotion_events

log = logging.getLogger(__name__)
router = APIRouter(prefix="/promotions", tags=["promotions"], responses=AUTH_RESPONSES)
ModelName = Annotated[str, Path(pattern=NAME_PATTERN, max_length=128,
                                description="The driftline model (registered as prefix + name).")]
_ACTION_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: error_response("No such registered model (or version)."),
    409: error_response("Nothing to do: the version already is the champion, "
                         "or there is no previous champion to roll back to."),
    503: error_response("MLflow (or the database) is unavailable."),
}


@router.get("", response_model=Page[PromotionOut],
            summary="Promotion decisions with each criterion's result, newest first")
def list_promotions(
    session: SessionDep, _: ViewerDep, window: TimeRangeDep, limit: LimitDep,
    model: OptionalName = None, decision: PromotionDecision | None = None,
    version: OptionalName = None, cursor: Cursor = None,
) -> Page[PromotionOut]:
    t = PromotionDecisionRow
    stmt = scoped(select(t), t.timestamp, window, (t.model_name, model), (t.decision, decision),
                  (t.candidate_version, version))
    return keyset_page(session, stmt, PromotionOut, t.timestamp, t.event_id, limit, cursor)


def _registry(request: Request) -> ModelRegistry:
    registry: ModelRegistry | None = getattr(request.app.state, "registry", None)
    if registry is None:
        registry = request.app.state.registry = ModelRegistry(
            request.app.state.settings.mlflow.tracking_uri)
    return registry


async def _decide(request: Request, engine: Any, action: Callable[[ModelRegistry], PromotionEvent]
                  ) -> PromotionActionOut:
    """Run a manual decision against MLflow, announce it, store it; errors as 4xx/503."""
    from mlflow.exceptions import MlflowException

    settings = request.app.state.settings
    # MLflow's client retries a dead server for minutes; a person should hear at once
    probe = await probe_mlflow(settings.mlflow.tracking_uri, settings.api.health_timeout_seconds)
    if not probe.ok:
        raise HTTPException(503, "the model registry (MLflow) is unavailable")
    try:
        event = await run_in_threadpool(lambda: action(_registry(request)))
    except UnknownModel as exc:
        raise HTTPException(404, str(exc)) from None
    except (NothingToRollBack, interventions.AlreadyChampion) as exc:
        raise HTTPException(409, str(exc)) from None
    except MlflowException as exc:
        log.error("MLflow failed during a manual decision: %s", exc.error_code)
        raise HTTPException(503, "the model registry (MLflow) failed; see the API's log") from None
    request.state.audit_details = {
        "registered_model": event.registered_model, "decision": event.decision,
        "decision_id": event.event_id, "candidate_version": event.candidate_version,
        "champion_version": event.champion_version}
    announced = True
    try:
        await request.app.state.publisher.send(
            interventions.announcements(event, settings.kafka.topics))
    except PublishFailed:
        announced = False
    try:
        await run_in_threadpool(save_promotion_events, engine, [event])
    except OperationalError:
        log.error("decision %s made in MLflow but not stored", event.event_id)
        raise HTTPException(503, f"{event.registered_model}: champion is now version "
                            f"{event.candidate_version}, but the decision could not be stored "
                            "(database unavailable)" + ("; it was published to promotion-events"
                                                        if announced else "")) from None
    return PromotionActionOut.model_validate({**event.asdict(), "announced": announced})


@router.post("/{model}/promote", response_model=PromotionActionOut, responses=_ACTION_RESPONSES,
             summary="Make a given version the champion (recorded as a decision with its actor)")
async def promote(request: Request, model: ModelName, body: PromoteIn, principal: AdminDep,
                  settings: SettingsDep, engine: EngineDep) -> PromotionActionOut:
    return await _decide(request, engine, lambda registry: interventions.promote(
        registry, model_name=model, registered=settings.mlflow.registered_name(model),
        version=body.version, reason=body.reason, actor=principal.name, via="API",
        now=datetime.now(UTC)))


@router.post("/{model}/rollback", response_model=PromotionActionOut, responses=_ACTION_RESPONSES,
             summary="Point champion back at previous_champion, as `driftline model rollback`")
async def rollback(request: Request, model: ModelName, principal: AdminDep, settings: SettingsDep,
                   engine: EngineDep, body: RollbackIn | None = None) -> PromotionActionOut:
    reason = body.reason if body is not None else RollbackIn().reason
    return await _decide(request, engine, lambda registry: interventions.rollback(
        registry, model_name=model, registered=settings.mlflow.registered_name(model),
        reason=reason, actor=principal.name, via="API", now=datetime.now(UTC)))

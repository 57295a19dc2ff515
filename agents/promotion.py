"""Promotion agent: a finished training job → candidate vs champion → promote or reject.

For each succeeded job it loads the candidate and the ``champion`` alias from MLflow, scores
both on the held-out labelled rows (the rows the trainer's hash split kept out of training),
runs the pre-promotion drift check of the candidate's training data against current
production data, and lets :func:`governance.evaluation.evaluate` decide. The decision goes to
``promotion-events`` (and so PostgreSQL) and ``alerts``; on promote the aliases move. The
candidate version is tagged with the decision's id, so a replayed job is not decided twice.
"""

from __future__ import annotations

import asyncio
import json
import logging
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import faust
from faust.types import EventT

import drift
from faust_app import app, database, settings
from governance.evaluation import PromotionPolicy, evaluate, model_outputs
from governance.messages import promotion_alert, stable_id
from governance.modelinputs import PROFILE_ARTIFACT, feature_columns, feature_dicts, targets
from integrations.registry import CHAMPION, DECISION_TAG, ModelRegistry
from observability.logs import correlated
from observability.metrics import PROMOTIONS
from schemas.events import decode
from schemas.governance import PromotionEvent, TrainingJob
from schemas.spec import SCHEMA_VERSION, InvalidEvent
from storage.governance_repository import load_labelled, split_rows
from streams.telemetry import handling
from streams.topics import alerts_topic, promotion_events_topic, training_jobs_topic

log = logging.getLogger(__name__)
LIMITS = settings.limits.for_events()
clock: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731


@cache
def registry() -> ModelRegistry:
    return ModelRegistry(settings.mlflow.tracking_uri)


def policy() -> PromotionPolicy:
    p = settings.promotion
    return PromotionPolicy(alpha=p.alpha, min_improvement=p.min_improvement,
                           bootstrap_samples=p.bootstrap_samples, seed=p.seed,
                           min_holdout=p.min_holdout, max_confidence_drop=p.max_confidence_drop,
                           max_loss_regression=p.max_loss_regression)


def drift_check(reg: ModelRegistry, run_id: str, production: list[dict[str, Any]]) -> dict[str, Any]:
    """The candidate's training profiles against current production features."""
    if not production:
        return {"passed": True, "note": "no current production rows to compare against"}
    with tempfile.TemporaryDirectory() as tmp:
        path = reg.download_run_artifact(run_id, PROFILE_ARTIFACT, tmp)
        with open(path, encoding="utf-8") as fh:
            reference = drift.profiles_from_dict(json.load(fh))
    kinds = {name: profile.kind for name, profile in reference.items()}
    report = drift.compare(reference, feature_columns(production, kinds), drift.DriftPolicy(
        alpha=settings.drift.alpha,
        default=drift.FeaturePolicy(min_psi=settings.drift.min_psi,
                                    min_distance=settings.drift.min_distance)))
    drifted = [f.name for f in report.features if f.drifted]
    return {"passed": not report.dataset_drift, "dataset_drift": report.dataset_drift,
            "drifted_share": report.drifted_share, "drifted": drifted,
            "severities": {f.name: f.severity for f in report.features if f.drifted},
            "production_rows": len(production)}


def decide(job: TrainingJob) -> PromotionEvent | None:
    """Evaluate the job's candidate and apply the decision; None if it was decided before."""
    reg = registry()
    name, candidate = job.registered_model, str(job.candidate_version)
    event_id = stable_id("promotion", name, candidate)
    version = reg.version(name, candidate)
    if version.tags.get(DECISION_TAG):
        log.info("%s v%s was decided before (%s)", name, candidate, version.tags[DECISION_TAG])
        return None
    champion = reg.alias(name, CHAMPION)
    now = clock()

    def event(decision: str, reason: str, criteria: dict[str, Any]) -> PromotionEvent:
        return PromotionEvent(
            event_id=event_id, schema_version=SCHEMA_VERSION, model_name=job.model_name,
            model_version=job.model_version, timestamp=now.isoformat(), decision=decision,
            registered_model=name, reason=reason[:16000], criteria=criteria,
            candidate_version=candidate,
            champion_version=champion.version if champion else None,
            request_id=job.request_id, job_id=job.job_id or None)

    if champion is None:
        reg.promote(name, candidate, {DECISION_TAG: event_id, "driftline.decision": "promoted"})
        return event("promoted", "no champion yet: the first candidate becomes champion",
                     {"champion_exists": {"passed": False, "note": "nothing to compare against"}})
    if champion.version == candidate:
        return event("skipped", "the candidate already is the champion", {})

    params = reg.run_params(version.run_id or "")
    task = params.get("task", "classification")
    share = float(params.get("holdout_share", settings.trainer.holdout_share))
    p = settings.promotion
    rows = load_labelled(database(), job.model_name, now - timedelta(hours=p.window_hours), now,
                         limit=p.max_rows)
    _, holdout = split_rows(rows, share)
    holdout = [r for r in holdout if r.label is not None]
    production_since = now - timedelta(hours=p.drift_check_hours)
    production = [r.features for r in rows if r.timestamp >= production_since]
    check = drift_check(reg, version.run_id or "", production)
    x = feature_dicts(r.features for r in holdout)
    y = targets([r.label for r in holdout], task)
    champion_model = reg.load(name, champion.version)
    candidate_model = reg.load(name, candidate)
    result = evaluate(y, task, model_outputs(champion_model, x, y, task) if holdout else _empty(),
                      model_outputs(candidate_model, x, y, task) if holdout else _empty(),
                      policy(), check)
    criteria = {**result.criteria, "metrics": {"passed": True, **result.metrics},
                "holdout": {"passed": True, "rows": len(holdout), "split": f"sha256 < {share}",
                            "since": (now - timedelta(hours=p.window_hours)).isoformat()}}
    decision = "promoted" if result.promote else "rejected"
    evidence = {DECISION_TAG: event_id, "driftline.decision": decision,
                "driftline.reason": result.reason,
                "driftline.evidence": {k: v for k, v in result.criteria.items()},
                "driftline.compared_with": champion.version}
    if result.promote:
        reg.promote(name, candidate, evidence)
    else:
        reg.tag(name, candidate, evidence)
    return event(decision, result.reason, criteria)


def _empty() -> Any:
    import numpy as np

    from governance.evaluation import ModelOutputs

    return ModelOutputs(predictions=np.array([], dtype=object))


@app.agent(training_jobs_topic, concurrency=1)
async def promote_candidates(stream: faust.StreamT[bytes]) -> None:
    async for event in stream.events():
        with handling([event]):
            await consider(event)


async def consider(event: EventT) -> None:
    """Decide on one training job's candidate, if it succeeded, and publish the decision."""
    try:
        job = decode(event.message.value, TrainingJob, LIMITS)
    except InvalidEvent:
        return  # the training-jobs sink dead-letters it
    if job.status != "succeeded" or not job.candidate_version:
        return
    with correlated(job.event_id):
        try:
            decision = await asyncio.to_thread(decide, job)
        except Exception as exc:
            log.exception("evaluating %s v%s failed", job.registered_model, job.candidate_version)
            decision = PromotionEvent(
                event_id=stable_id("promotion", job.registered_model, job.candidate_version),
                schema_version=SCHEMA_VERSION, model_name=job.model_name,
                model_version=job.model_version, timestamp=clock().isoformat(),
                decision="skipped", registered_model=job.registered_model,
                reason=f"evaluation failed, champion unchanged: {exc.__class__.__name__}: {exc}"[:2000],
                criteria={}, candidate_version=job.candidate_version, request_id=job.request_id,
                job_id=job.job_id or None)
        if decision is None:
            return
        key = job.model_name.encode()
        await promotion_events_topic.send(key=key, value=decision.dumps())
        await alerts_topic.send(key=key, value=promotion_alert(decision).dumps())
        PROMOTIONS.labels(decision.decision).inc()
        log.info("promotion of %s v%s: %s — %s", decision.registered_model,
                 decision.candidate_version, decision.decision, decision.reason[:300])

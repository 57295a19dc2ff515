"""Promotion agent: a finished training job → candidate vs champion → promote or reject.

For each succeeded job it loads the candidate and the ``champion`` alias from MLflow, scores
both on the held-out labelled rows (the rows the trainer's hash split kept out of training),
runs the pre-promotion drift check of the candidate's training data against current
production data, and lets :func:`governance.evaluation.evaluate` decide.

The decision converges to exactly one, whatever fails: it is first recorded on the candidate
version (tags, with the whole decision), then applied (aliases moved on promote), then
published to ``promotion-events`` and ``alerts`` under a deterministic id. A restart finds the
record, applies it if it was not, and publishes it again (sinks and the notifier keep one).
MLflow or PostgreSQL being down defers the decision (the job is held), it never becomes a
permanent "skipped".
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import signal
import tempfile
import zlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any, TypeVar

import faust
from faust.types import EventT

import drift
from faust_app import app, database, settings
from governance.evaluation import PromotionPolicy, evaluate, model_outputs
from governance.messages import promotion_alert, stable_id
from governance.modelinputs import PROFILE_ARTIFACT, feature_columns, feature_dicts, targets
from integrations.registry import CHAMPION, DECISION_TAG, MAX_TAG, ModelRegistry, Version, mlflow_transient
from observability.logs import correlated
from observability.metrics import PROMOTIONS
from resilience.backpressure import hold
from schemas.events import decode
from schemas.governance import PromotionEvent, TrainingJob
from schemas.spec import SCHEMA_VERSION, InvalidEvent
from storage.db import is_transient
from storage.governance_repository import load_labelled, split_rows
from streams.admin import kafka_transient
from streams.gaps import process_batches
from streams.topics import alerts_topic, promotion_events_topic, training_jobs_topic

log = logging.getLogger(__name__)
T = TypeVar("T")
#: the whole decision, compressed, on the candidate version (see :func:`record`)
RECORD_TAG = "driftline.decision_record"
#: set once a recorded promotion moved the aliases (to the decision's id)
APPLIED_TAG = "driftline.decision_applied"
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


def recall(job: TrainingJob) -> tuple[Version, PromotionEvent | None, bool]:
    """The candidate's version, the decision recorded on it before (if any) and whether that
    decision was applied in the registry (a promotion's aliases moved)."""
    version = registry().version(job.registered_model, str(job.candidate_version))
    recorded = unpack_record(version.tags.get(RECORD_TAG))
    applied = recorded is not None and (recorded.decision != "promoted"
                                        or version.tags.get(APPLIED_TAG) == recorded.event_id)
    return version, recorded, applied


def evaluate_candidate(job: TrainingJob, version: Version, rows: list[Any],
                       now: datetime) -> PromotionEvent:
    """Evaluate the job's candidate against the champion; no side effect."""
    reg = registry()
    name, candidate = job.registered_model, str(job.candidate_version)
    event_id = stable_id("promotion", name, candidate)
    champion = reg.alias(name, CHAMPION)

    def event(decision: str, reason: str, criteria: dict[str, Any]) -> PromotionEvent:
        return PromotionEvent(
            event_id=event_id, schema_version=SCHEMA_VERSION, model_name=job.model_name,
            model_version=job.model_version, timestamp=now.isoformat(), decision=decision,
            registered_model=name, reason=reason[:16000], criteria=criteria,
            candidate_version=candidate,
            champion_version=champion.version if champion else None,
            request_id=job.request_id, job_id=job.job_id or None)

    if champion is None:
        return event("promoted", "no champion yet: the first candidate becomes champion",
                     {"champion_exists": {"passed": False, "note": "nothing to compare against"}})
    if champion.version == candidate:
        return event("skipped", "the candidate already is the champion", {})
    params = reg.run_params(version.run_id or "")
    task = params.get("task", "classification")
    share = float(params.get("holdout_share", settings.trainer.holdout_share))
    p = settings.promotion
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
    return event("promoted" if result.promote else "rejected", result.reason, criteria)


def record(job: TrainingJob, decision: PromotionEvent) -> None:
    """Write the decision on the candidate before acting on it: whatever crashes after this,
    a restart finds it, finishes applying it and publishes it (the same id)."""
    evidence: dict[str, Any] = {DECISION_TAG: decision.event_id,
                                "driftline.decision": decision.decision,
                                "driftline.reason": decision.reason,
                                RECORD_TAG: pack_record(decision)}
    if decision.criteria:
        evidence["driftline.evidence"] = {k: v for k, v in decision.criteria.items()
                                          if k not in ("metrics", "holdout")}
    if decision.champion_version:
        evidence["driftline.compared_with"] = decision.champion_version
    registry().tag(job.registered_model, str(job.candidate_version), evidence)


def apply(job: TrainingJob, decision: PromotionEvent) -> None:
    """Move the aliases for a promotion (idempotent: a retry after a crash converges)."""
    if decision.decision == "promoted":
        registry().promote(job.registered_model, str(job.candidate_version),
                           {"driftline.decision": "promoted"})
        crash_point("promotion.after_alias_move")
        registry().tag(job.registered_model, str(job.candidate_version),
                       {APPLIED_TAG: decision.event_id})


def pack_record(decision: PromotionEvent) -> str:
    """The decision as a tag value (compressed; criteria cut to pass/fail if too long)."""
    text = base64.b64encode(zlib.compress(decision.dumps(), 9)).decode()
    if len(text) <= MAX_TAG:
        return text
    slim = PromotionEvent(**{**decision.asdict(), "reason": decision.reason[:1500],
                             "criteria": {k: {"passed": v.get("passed")} if isinstance(v, dict)
                                          else {} for k, v in decision.criteria.items()}})
    return base64.b64encode(zlib.compress(slim.dumps(), 9)).decode()[:MAX_TAG]


def unpack_record(text: str | None) -> PromotionEvent | None:
    if not text:
        return None
    try:
        return PromotionEvent.loads(zlib.decompress(base64.b64decode(text)))
    except Exception:  # noqa: BLE001 - a tag we cannot read is a decision to make again
        log.warning("unreadable promotion record tag; deciding again")
        return None


def crash_point(name: str) -> None:
    """Test hook: ``DRIFTLINE_TEST_CRASH_AT=<name>`` SIGKILLs the worker here, so the fault
    suite can prove a decision converges whatever point a crash interrupts."""
    if os.environ.get("DRIFTLINE_TEST_CRASH_AT") == name:
        log.critical("test hook: killing the worker at %s", name)
        os.kill(os.getpid(), signal.SIGKILL)


def _empty() -> Any:
    import numpy as np

    from governance.evaluation import ModelOutputs

    return ModelOutputs(predictions=np.array([], dtype=object))


def _failed(job: TrainingJob, exc: BaseException) -> PromotionEvent:
    """An evaluation that failed for a reason other than an outage: an explicit decision with
    an alert (the champion is unchanged), never a silent log line."""
    return PromotionEvent(
        event_id=stable_id("promotion", job.registered_model, job.candidate_version),
        schema_version=SCHEMA_VERSION, model_name=job.model_name,
        model_version=job.model_version, timestamp=clock().isoformat(), decision="failed",
        registered_model=job.registered_model,
        reason=f"evaluation failed, champion unchanged: {exc.__class__.__name__}: {exc}"[:2000],
        criteria={}, candidate_version=job.candidate_version, request_id=job.request_id,
        job_id=job.job_id or None)


async def mlflow(call: Callable[[], T]) -> T:
    """Run a registry call in a thread, holding while MLflow is unavailable."""
    return await hold("mlflow", lambda: asyncio.to_thread(call), transient=mlflow_transient,
                      agent="promote_candidates")


async def consider(event: EventT) -> None:
    """Decide on one training job's candidate, if it succeeded, and publish the decision.

    record → apply → publish, each step repeatable: an MLflow or database outage holds the
    job (deferred, never a permanent skip), and a crash anywhere converges on restart to one
    decision, recorded on the version, applied in the registry, published under one id."""
    try:
        job = decode(event.message.value, TrainingJob, LIMITS)
    except InvalidEvent:
        return  # the training-jobs sink dead-letters it
    if job.status != "succeeded" or not job.candidate_version:
        return
    with correlated(job.event_id):
        try:
            version, decision, applied = await mlflow(lambda: recall(job))
            if decision is None:
                if version.tags.get(DECISION_TAG):  # decided before records were kept
                    log.info("%s v%s was decided before (%s)", job.registered_model,
                             job.candidate_version, version.tags[DECISION_TAG])
                    return
                now = clock()
                p = settings.promotion
                rows = await hold("postgres", lambda: asyncio.to_thread(
                    load_labelled, database(), job.model_name,
                    now - timedelta(hours=p.window_hours), now, limit=p.max_rows),
                    transient=is_transient, agent="promote_candidates")
                decision = await mlflow(lambda: evaluate_candidate(job, version, rows, now))
                await mlflow(lambda: record(job, decision))
            if not applied:
                await mlflow(lambda: apply(job, decision))
        except Exception as exc:  # not an outage (those are held above): a failed decision
            log.exception("evaluating %s v%s failed", job.registered_model, job.candidate_version)
            decision = _failed(job, exc)
        await publish(job, decision)


async def publish(job: TrainingJob, decision: PromotionEvent) -> None:
    key = job.model_name.encode()

    async def send() -> None:
        await asyncio.gather(
            await promotion_events_topic.send(key=key, value=decision.dumps()),
            await alerts_topic.send(key=key, value=promotion_alert(decision).dumps()))

    await hold("kafka", send, transient=kafka_transient, agent="promote_candidates")
    PROMOTIONS.labels(decision.decision).inc()
    log.info("promotion of %s v%s: %s — %s", decision.registered_model,
             decision.candidate_version, decision.decision, decision.reason[:300])


async def process_batch(events: list[EventT]) -> None:
    for event in events:
        await consider(event)


@app.agent(training_jobs_topic, concurrency=1)
async def promote_candidates(stream: faust.StreamT[bytes]) -> None:
    await process_batches(app, stream, "promote_candidates", process_batch, size=10,
                          within=0.5, enabled=settings.kafka.offset_guard)

"""Building the loop's records: decisions, job states, and the alerts that announce them.

Every id is a uuid5 of what the record is about, so a replay rebuilds the same ids and the
idempotent sinks (and the notifier's log) see duplicates as duplicates.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from governance.alerts import alert_key
from governance.ledger import Decision
from schemas.events import Alert
from schemas.governance import PromotionEvent, RetrainRequest, TrainingJob
from schemas.spec import SCHEMA_VERSION

NAMESPACE = uuid.UUID("9f1d3a4e-6b7c-4d2e-8f90-676f7665726e")


def stable_id(*parts: object) -> str:
    return str(uuid.uuid5(NAMESPACE, "|".join(str(p) for p in parts)))


def retrain_request(decision: Decision, registered_model: str, now: datetime) -> RetrainRequest:
    t = decision.trigger
    members = decision.merged or (t,)
    requested_by = sorted({m.requested_by for m in members if m.requested_by})
    return RetrainRequest(
        event_id=decision.event_id, schema_version=SCHEMA_VERSION, model_name=t.model_name,
        model_version=t.model_version, timestamp=now.isoformat(), request_id=decision.request_id,
        decision=decision.decision, reason=decision.reason[:16000], trigger_kind=t.kind,
        severity=t.severity if t.severity in ("none", "low", "medium", "high") else "none",
        priority=t.priority, registered_model=registered_model,
        triggers={"event_ids": [m.event_id for m in members],
                  "features": sorted({m.feature for m in members if m.feature}),
                  "kinds": sorted({m.kind for m in members}),
                  "windows": sorted({m.window for m in members if m.window}),
                  "trigger_event_id": t.event_id,
                  **({"requested_by": requested_by} if requested_by else {})},
        requests_today=decision.requests_today,
        cooldown_until=decision.cooldown_until.isoformat() if decision.cooldown_until else None,
    )


def retrain_alert(request: RetrainRequest) -> Alert:
    accepted = request.decision == "accepted"
    verb = {"accepted": "accepted", "merged": "merged", "suppressed_cooldown": "suppressed (cooldown)",
            "suppressed_daily_limit": "suppressed (daily limit)",
            "below_threshold": "not needed yet"}.get(request.decision, request.decision)
    # merged decisions share their request's key, suppressions their cooldown: one mail each
    subject = {"accepted": ("request", request.request_id),
               "merged": ("request", request.request_id),
               "suppressed_cooldown": ("suppressed_cooldown", str(request.cooldown_until)),
               }.get(request.decision, (request.decision, request.timestamp[:10]))
    dedup = alert_key(request.model_name, request.model_version, f"retrain:{subject[0]}",
                      [subject[1]])
    return Alert(
        event_id=stable_id("alert", request.event_id), schema_version=SCHEMA_VERSION,
        model_name=request.model_name, model_version=request.model_version,
        timestamp=request.timestamp, kind="retrain_decision",
        severity="medium" if accepted else "low",
        subject=f"driftline: retrain {verb} for {request.model_name}"[:250],
        summary=f"Retrain request {verb}: {request.reason}",
        dedup_key=dedup,
        details={"decision": request.decision, "request_id": request.request_id,
                 "trigger_kind": request.trigger_kind, "severity": request.severity,
                 "priority": request.priority, "requests_today": request.requests_today,
                 "cooldown_until": request.cooldown_until,
                 "features": request.triggers.get("features", [])},
        source_event_id=request.event_id,
    )


def job_event(*, request: RetrainRequest | dict[str, Any], job_id: str, status: str,
              progress: float, message: str, now: datetime, candidate_version: str | None = None,
              run_id: str | None = None, metrics: dict[str, Any] | None = None) -> TrainingJob:
    get = request.get if isinstance(request, dict) else lambda k: getattr(request, k)
    progress = max(0.0, min(1.0, float(progress)))
    return TrainingJob(
        event_id=stable_id("job", get("request_id"), job_id, status, round(progress, 2)),
        schema_version=SCHEMA_VERSION, model_name=get("model_name"),
        model_version=get("model_version"), timestamp=now.isoformat(),
        request_id=get("request_id"), job_id=job_id[:250], status=status, progress=progress,
        message=message[:16000], registered_model=get("registered_model"),
        candidate_version=candidate_version, run_id=run_id, metrics=metrics,
    )


def training_failed_alert(job: TrainingJob) -> Alert:
    return Alert(
        event_id=stable_id("alert", job.event_id), schema_version=SCHEMA_VERSION,
        model_name=job.model_name, model_version=job.model_version, timestamp=job.timestamp,
        kind="training_failed", severity="high",
        subject=f"driftline: training failed for {job.model_name}"[:250],
        summary=f"The training job for retrain request {job.request_id} failed: {job.message}",
        dedup_key=alert_key(job.model_name, job.model_version, "training_failed",
                            [job.request_id]),
        details={"request_id": job.request_id, "job_id": job.job_id or "(never created)",
                 "registered_model": job.registered_model, "status": job.status},
        source_event_id=job.event_id,
    )


def promotion_alert(event: PromotionEvent) -> Alert:
    title = {"promoted": "promoted", "rejected": "rejected", "rolled_back": "rolled back",
             "skipped": "skipped", "failed": "not evaluated (error)"}.get(event.decision,
                                                                       event.decision)
    details: dict[str, Any] = {"decision": event.decision, "registered_model": event.registered_model,
                               "candidate_version": event.candidate_version,
                               "champion_version": event.champion_version}
    for name, result in event.criteria.items():
        if isinstance(result, dict) and "passed" in result:
            details[f"criterion {name}"] = "passed" if result["passed"] else "FAILED"
    return Alert(
        event_id=stable_id("alert", event.event_id), schema_version=SCHEMA_VERSION,
        model_name=event.model_name, model_version=event.model_version, timestamp=event.timestamp,
        kind="promotion_decision", severity="medium" if event.decision != "rejected" else "low",
        subject=(f"driftline: {event.registered_model} v{event.candidate_version} {title}"
                 if event.decision != "rolled_back" else
                 f"driftline: {event.registered_model} rolled back to v{event.candidate_version}")[:250],
        summary=event.reason,
        dedup_key=alert_key(event.registered_model, str(event.candidate_version),
                            f"promotion:{event.decision}", [event.event_id]),
        details=details,
        source_event_id=event.event_id,
    )

"""Reads and idempotent writes for the governed loop's tables, and the labelled window.

Decisions are keyed by ``event_id`` (a replay never duplicates one); a job's row is keyed by
its request and only moves forward (a terminal state is never overwritten).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, and_, func, select

from schemas.governance import TERMINAL_JOB_STATUSES
from storage.db import with_retries
from storage.governance import (
    NotificationRow,
    PromotionDecisionRow,
    RetrainJobRow,
    RetrainRequestRow,
)
from storage.models import LabelledPrediction
from storage.pii import pseudonymised
from storage.repository import dialect_insert, insert_ignoring_duplicates


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def save_retrain_requests(engine: Engine, records: Sequence[Any], *, retries: int = 5) -> int:
    rows = [{
        "event_id": uuid.UUID(r.event_id), "timestamp": _time(r.timestamp),
        "model_name": r.model_name, "model_version": r.model_version,
        "request_id": uuid.UUID(r.request_id), "decision": r.decision, "reason": r.reason,
        "trigger_kind": r.trigger_kind, "severity": r.severity, "priority": r.priority,
        "registered_model": r.registered_model, "triggers": r.triggers,
        "requests_today": r.requests_today or 0, "cooldown_until": _time(r.cooldown_until),
    } for r in records]
    return insert_ignoring_duplicates(engine, RetrainRequestRow.__table__, rows,  # type: ignore[arg-type]
                                      retries=retries)


def save_promotion_events(engine: Engine, records: Sequence[Any], *, retries: int = 5) -> int:
    rows = [{
        "event_id": uuid.UUID(r.event_id), "timestamp": _time(r.timestamp),
        "model_name": r.model_name, "model_version": r.model_version,
        "registered_model": r.registered_model, "decision": r.decision, "reason": r.reason,
        "criteria": r.criteria, "candidate_version": r.candidate_version,
        "champion_version": r.champion_version,
        "request_id": uuid.UUID(r.request_id) if r.request_id else None, "job_id": r.job_id,
    } for r in records]
    return insert_ignoring_duplicates(engine, PromotionDecisionRow.__table__, rows,  # type: ignore[arg-type]
                                      retries=retries)


def _job_rank(status: str, progress: float, timestamp: str) -> tuple[int, float, str]:
    return (1 if status in TERMINAL_JOB_STATUSES else 0, progress, timestamp)


def save_training_jobs(engine: Engine, records: Sequence[Any], *, retries: int = 5) -> int:
    """Upsert each request's job row with its most advanced state; terminal rows stay put."""
    latest: dict[str, Any] = {}
    for r in records:
        best = latest.get(r.request_id)
        if best is None or (_job_rank(r.status, r.progress, r.timestamp)
                            >= _job_rank(best.status, best.progress, best.timestamp)):
            latest[r.request_id] = r
    if not latest:
        return 0
    rows = [{
        "request_id": uuid.UUID(r.request_id), "job_id": r.job_id, "model_name": r.model_name,
        "model_version": r.model_version, "registered_model": r.registered_model,
        "status": r.status, "progress": r.progress, "message": r.message,
        "candidate_version": r.candidate_version, "run_id": r.run_id, "metrics": r.metrics,
        "last_event_id": uuid.UUID(r.event_id), "created_at": _time(r.timestamp),
        "updated_at": _time(r.timestamp),
    } for r in latest.values()]
    table = RetrainJobRow.__table__
    rows = list(pseudonymised(engine, table, rows))  # type: ignore[arg-type]
    stmt = dialect_insert(engine, table)
    excluded = stmt.excluded
    updatable = ("job_id", "status", "progress", "message", "candidate_version", "run_id",
                 "metrics", "last_event_id", "updated_at")
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.request_id],
        set_={name: excluded[name] for name in updatable},
        # one comparison per status, not NOT IN: an expanding parameter cannot be used
        # with executemany (a batch of several requests' jobs)
        where=and_(*(table.c.status != status for status in sorted(TERMINAL_JOB_STATUSES)),
                   table.c.updated_at <= excluded.updated_at),
    )

    def run() -> int:
        with engine.begin() as conn:
            conn.execute(stmt, rows)
        return len(rows)

    return with_retries(run, retries=retries)


# -- the labelled production window ----------------------------------------------------------

@dataclass(frozen=True)
class LabelledRow:
    event_id: str
    timestamp: datetime
    features: dict[str, Any]
    label: Any
    prediction: Any
    probabilities: dict[str, float] | None


def in_holdout(event_id: str, share: float) -> bool:
    """Whether a row is held out of training: a hash of its event id, so the trainer and the
    promotion agent split the same rows the same way, on any machine, in any order."""
    digest = hashlib.sha256(f"holdout:{event_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def load_labelled(engine: Engine, model_name: str, since: datetime, until: datetime,
                  *, limit: int = 200_000) -> list[LabelledRow]:
    """Labelled predictions of ``model_name`` with since <= timestamp < until, newest last
    (the most recent ``limit`` rows when there are more)."""
    table = LabelledPrediction
    stmt = (select(table.event_id, table.timestamp, table.features, table.label,
                   table.prediction, table.probabilities)
            .where(table.model_name == model_name, table.timestamp >= since,
                   table.timestamp < until, table.features.is_not(None))
            .order_by(table.timestamp.desc(), table.event_id.desc()).limit(limit))

    def run() -> list[LabelledRow]:
        with engine.connect() as conn:
            return [LabelledRow(str(r.event_id), r.timestamp, dict(r.features), r.label,
                                r.prediction, r.probabilities) for r in conn.execute(stmt)]

    rows = with_retries(run)
    rows.reverse()
    return rows


def split_rows(rows: Iterable[LabelledRow], share: float) -> tuple[list[LabelledRow], list[LabelledRow]]:
    """(train, holdout) by :func:`in_holdout`."""
    train: list[LabelledRow] = []
    holdout: list[LabelledRow] = []
    for row in rows:
        (holdout if in_holdout(row.event_id, share) else train).append(row)
    return train, holdout


# -- the notification log ------------------------------------------------------------------

@dataclass(frozen=True)
class NotificationHistory:
    """What the log says about an alert before it is mailed."""

    already: str | None  # this alert's recorded status, if it was handled before
    duplicate_of_recent: bool  # the same (model, kind, dedup key) was mailed within the window
    sent_in_last_hour: int  # mails for (model, kind) in the last hour


def notification_history(engine: Engine, *, alert_id: str, model_name: str, kind: str,
                         dedup_key: str, dedup_since: datetime, rate_since: datetime
                         ) -> NotificationHistory:
    t = NotificationRow

    def run() -> NotificationHistory:
        with engine.connect() as conn:
            already = conn.execute(select(t.status).where(t.alert_id == uuid.UUID(alert_id))
                                   ).scalar_one_or_none()
            duplicate = conn.execute(select(func.count()).where(
                t.model_name == model_name, t.kind == kind, t.dedup_key == dedup_key,
                t.status == "sent", t.decided_at >= dedup_since)).scalar_one()
            recent = conn.execute(select(func.count()).where(
                t.model_name == model_name, t.kind == kind, t.status == "sent",
                t.decided_at >= rate_since)).scalar_one()
        return NotificationHistory(already, bool(duplicate), int(recent))

    return with_retries(run)


def record_notification(engine: Engine, *, alert_id: str, model_name: str, kind: str,
                        dedup_key: str, subject: str, status: str, attempts: int,
                        error: str | None, recipients: Sequence[str], decided_at: datetime) -> int:
    row = {"alert_id": uuid.UUID(alert_id), "model_name": model_name, "kind": kind,
           "dedup_key": dedup_key[:256], "subject": subject, "status": status,
           "attempts": attempts, "error": error, "recipients": ", ".join(recipients),
           "decided_at": decided_at}
    return insert_ignoring_duplicates(engine, NotificationRow.__table__, [row])  # type: ignore[arg-type]

"""A model's history as the worker and the loop store it: drift windows (one feature drifts
from the fourth window on), performance windows that drop below the reference, alerts, a
retrain decision, a training job and a promotion decision with its criteria."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, insert

from storage.governance import (
    NotificationRow,
    PromotionDecisionRow,
    RetrainJobRow,
    RetrainRequestRow,
)
from storage.models import DriftResult, PerformanceMetric

FEATURES = ("income", "region", "x1")
WINDOWS = 6
DRIFT_FROM = 3  # windows 3, 4, 5 drift on x1
WINDOW = timedelta(minutes=5)


def _drift(model: str, end: datetime, i: int, feature: str) -> dict[str, Any]:
    drifted = feature == "x1" and i >= DRIFT_FROM
    categorical = feature == "region"
    return dict(
        event_id=uuid.uuid4(), timestamp=end, model_name=model, model_version="1",
        kind="data_drift", feature=feature, test="chi2" if categorical else "ks",
        statistic=0.31 if drifted else 0.02, p_value=1e-9 if drifted else 0.4,
        p_value_adjusted=3e-9 if drifted else 0.6, effect=0.3 if drifted else 0.01,
        severity="high" if drifted else "none", drifted=drifted,
        window_start_seq=i * 500, window_end_seq=(i + 1) * 500, window_start_offset=i * 500,
        window_end_offset=(i + 1) * 500 - 1, window_start_time=end - WINDOW,
        window_end_time=end, reference_size=1000, current_size=500, missing_share=0.0,
        partition=0)


def seed_history(engine: Engine, model: str, start: datetime, *, estimated: bool = False) -> None:
    ends = [start + WINDOW * (i + 1) for i in range(WINDOWS)]
    drift = [_drift(model, end, i, f) for i, end in enumerate(ends) for f in FEATURES]
    drift += [{**_drift(model, end, i, "prediction"), "kind": "model_drift", "test": "chi2",
               "drifted": i >= DRIFT_FROM + 1, "severity": "medium" if i >= DRIFT_FROM + 1 else "none"}
              for i, end in enumerate(ends)]
    performance = [dict(
        event_id=uuid.uuid4(), timestamp=end, model_name=model, model_version="1",
        metric="accuracy", value=0.91 if i < DRIFT_FROM else 0.74, reference_value=0.9,
        sample_size=500, window_start_seq=i * 500, window_end_seq=(i + 1) * 500,
        window_start_time=end - WINDOW, window_end_time=end,
        # every row names every column: an executemany insert takes its columns from the
        # first row, so an 'estimated' only on later rows would be dropped
        estimated=False) for i, end in enumerate(ends)]
    if estimated:
        performance += [dict(row, event_id=uuid.uuid4(), value=row["value"] - 0.01,
                             estimated=True) for row in list(performance)]
    fired = ends[DRIFT_FROM + 1]
    request_id = uuid.uuid4()
    notifications = [
        dict(alert_id=uuid.uuid4(), model_name=model, kind="drift_alert", dedup_key="x1",
             subject=f"[driftline] {model}: data drift on x1 (high)", status="sent", attempts=1,
             error=None, recipients="ops@example.org", decided_at=fired),
        dict(alert_id=uuid.uuid4(), model_name=model, kind="performance_drop",
             dedup_key="accuracy", subject=f"[driftline] {model}: accuracy fell to 0.74",
             status="sent", attempts=1, error=None, recipients="ops@example.org",
             decided_at=fired + timedelta(seconds=5)),
    ]
    requests = [dict(
        event_id=uuid.uuid4(), timestamp=fired, model_name=model, model_version="1",
        request_id=request_id, decision="accepted", reason="data drift fired on x1 (high)",
        trigger_kind="data_drift", severity="high", priority=30, registered_model=f"dl-{model}",
        # the shape the retrain agent stores (RetrainRequest.triggers); the JSON routes read
        # these rows too, from every test's model, so a made-up shape breaks them
        triggers={"event_ids": [str(uuid.uuid4())], "features": ["x1"], "kinds": ["data_drift"]},
        requests_today=1, cooldown_until=None)]
    jobs = [dict(
        request_id=request_id, job_id=f"job-{model}", model_name=model, model_version="1",
        registered_model=f"dl-{model}", status="succeeded", progress=1.0,
        message="trained on 2,400 rows", candidate_version="2", run_id="r1",
        metrics={"accuracy": 0.9}, last_event_id=uuid.uuid4(), created_at=fired,
        updated_at=fired + timedelta(minutes=1))]
    promotions = [dict(
        event_id=uuid.uuid4(), timestamp=fired + timedelta(minutes=2), model_name=model,
        model_version="1", registered_model=f"dl-{model}", decision="promoted",
        reason="promoted: every criterion passed", candidate_version="2", champion_version="1",
        request_id=request_id, job_id=f"job-{model}", criteria={
            "holdout_size": {"passed": True, "value": 812, "minimum": 200},
            "improvement": {"passed": True, "metric": "accuracy", "champion": 0.74,
                            "candidate": 0.9, "delta": 0.16, "minimum": 0.01},
            "significance": {"passed": True, "test": "mcnemar_exact", "alpha": 0.05,
                             "p_value": 3.2e-11, "champion_only": 20, "candidate_only": 150},
        })]
    with engine.begin() as conn:
        for table, rows in ((DriftResult, drift), (PerformanceMetric, performance),
                            (NotificationRow, notifications), (RetrainRequestRow, requests),
                            (RetrainJobRow, jobs), (PromotionDecisionRow, promotions)):
            conn.execute(insert(table), rows)

"""One training job: export the labelled production window, fit, log to MLflow, register.

The window is the model's labelled predictions with ``until - window_hours <= timestamp <
until``, minus the held-out rows (:func:`storage.governance_repository.in_holdout`) that the
promotion agent evaluates on. Parameters logged with the run say exactly which rows those
were, and the training data's drift profiles are logged as ``training_profile.json`` for the
pre-promotion drift check.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from governance.modelinputs import PROFILE_ARTIFACT, training_profiles
from storage.governance_repository import load_labelled, split_rows
from trainer.fit import SERIALIZATION, fit, pip_requirements


class Cancelled(Exception):
    """The job was cancelled between two steps."""


@dataclass(frozen=True)
class TrainingConfig:
    tracking_uri: str
    experiment_prefix: str = "driftline-"
    window_hours: float = 24.0 * 7
    max_rows: int = 200_000
    min_rows: int = 50
    holdout_share: float = 0.3
    step_delay: float = 0.0
    seed: int = 0


@dataclass(frozen=True)
class TrainingRequest:
    model_name: str
    registered_model: str
    request_id: str | None = None
    until: datetime | None = None
    window_hours: float | None = None
    set_champion: bool = False


Report = Callable[[float, str], None]


def _experiment_id(client: Any, name: str) -> str:
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return str(experiment.experiment_id)
    from mlflow.exceptions import MlflowException

    try:
        return str(client.create_experiment(name))
    except MlflowException:  # created concurrently
        return str(client.get_experiment_by_name(name).experiment_id)


def run_training(request: TrainingRequest, config: TrainingConfig, engine: Engine,
                 report: Report) -> dict[str, Any]:
    """Run the job; ``report(progress, message)`` may raise :class:`Cancelled`."""
    import mlflow
    import mlflow.sklearn
    from mlflow import MlflowClient

    def step(progress: float, message: str) -> None:
        report(progress, message)
        if config.step_delay:
            time.sleep(config.step_delay)

    until = request.until or datetime.now(UTC)
    hours = request.window_hours or config.window_hours
    since = until - timedelta(hours=hours)
    step(0.05, f"exporting labelled predictions of {request.model_name} from {since.isoformat()} "
               f"to {until.isoformat()}")
    rows = load_labelled(engine, request.model_name, since, until, limit=config.max_rows)
    train, holdout = split_rows(rows, config.holdout_share)
    if len(train) < config.min_rows:
        raise ValueError(f"{len(train)} training row(s) for {request.model_name} in the window "
                         f"(of {len(rows)} labelled, {len(holdout)} held out); at least "
                         f"{config.min_rows} are needed")
    step(0.25, f"exported {len(rows)} labelled row(s): {len(train)} to train on, "
               f"{len(holdout)} held out for evaluation")
    result = fit([r.features for r in train], [r.label for r in train], seed=config.seed)
    step(0.6, f"trained a {result.task} pipeline on {result.n_train} row(s): "
              + ", ".join(f"{k}={v:.4f}" for k, v in result.metrics.items()))

    mlflow.set_tracking_uri(config.tracking_uri)
    client = MlflowClient(tracking_uri=config.tracking_uri, registry_uri=config.tracking_uri)
    experiment_id = _experiment_id(client, f"{config.experiment_prefix}{request.model_name}")
    params = {
        "model_name": request.model_name, "task": result.task,
        "window_since": since.isoformat(), "window_until": until.isoformat(),
        "holdout_share": config.holdout_share, "split": "sha256(holdout:<event_id>) < share",
        "n_rows": len(rows), "n_train": result.n_train, "n_holdout_excluded": len(holdout),
        "estimator": result.model.steps[-1][1].__class__.__name__, "seed": config.seed,
        "request_id": request.request_id or "",
    }
    with mlflow.start_run(experiment_id=experiment_id,
                          run_name=f"retrain-{(request.request_id or 'manual')[:8]}") as run:
        mlflow.log_params(params)
        mlflow.log_metrics(result.metrics)
        mlflow.log_dict(training_profiles([r.features for r in train]), PROFILE_ARTIFACT)
        step(0.75, f"logged run {run.info.run_id}; logging the model")
        info = mlflow.sklearn.log_model(result.model, name="model",
                                        registered_model_name=request.registered_model,
                                        pip_requirements=pip_requirements(),
                                        serialization_format=SERIALIZATION)
    version = str(info.registered_model_version)
    tags = {"driftline.model_name": request.model_name, "driftline.task": result.task,
            "driftline.window_since": since.isoformat(), "driftline.window_until": until.isoformat(),
            "driftline.request_id": request.request_id or "", "driftline.run_id": run.info.run_id}
    for key, value in tags.items():
        client.set_model_version_tag(request.registered_model, version, key, value)
    if request.set_champion:
        client.set_registered_model_alias(request.registered_model, "champion", version)
        client.set_model_version_tag(request.registered_model, version, "driftline.decision",
                                     "bootstrap")
    step(0.95, f"registered {request.registered_model} version {version}")
    return {"candidate_version": version, "run_id": run.info.run_id,
            "metrics": {**result.metrics, "n_train": result.n_train}}

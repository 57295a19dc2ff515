"""``driftline model``: register a first champion, roll back, show the aliases."""

from __future__ import annotations

import asyncio
import csv
from pathlib import Path
from typing import Any

import click

from cli.errors import BadInput
from cli.settings_util import load_settings


@click.group()
def model() -> None:
    """Champion models in the MLflow registry (aliases, not stages)."""


def _cell(text: str) -> Any:
    if text == "":
        return None
    try:
        return float(text)
    except ValueError:
        return text


def read_labelled_csv(path: Path, label: str) -> tuple[list[dict[str, Any]], list[Any]]:
    """Feature dicts and labels from a CSV with a header; numbers parsed, empty cells missing."""
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            if reader.fieldnames is None or label not in reader.fieldnames:
                raise BadInput(f"{path}: no {label!r} column (columns: {reader.fieldnames})")
            features, labels = [], []
            for row in reader:
                labels.append(_cell(row.pop(label)))
                features.append({k: _cell(v) for k, v in row.items()})
    except OSError as exc:
        raise BadInput(f"{path}: {exc.strerror}") from None
    return features, labels


def require_trainer_extra() -> None:
    import importlib.util

    if importlib.util.find_spec("pandas") is None:
        raise BadInput("logging models needs pandas (mlflow.sklearn imports it): "
                       "pip install 'driftline[trainer]'")


def bootstrap_champion(tracking_uri: str, registered: str, model_name: str,
                       features: list[dict[str, Any]], labels: list[Any],
                       experiment_prefix: str = "driftline-") -> str:
    """Fit the reference pipeline on ``features``/``labels``, register it, make it champion."""
    import mlflow
    import mlflow.sklearn
    from mlflow import MlflowClient

    from governance.modelinputs import PROFILE_ARTIFACT, training_profiles
    from integrations.registry import ModelRegistry
    from trainer.fit import SERIALIZATION, fit, pip_requirements
    from trainer.training import _experiment_id

    result = fit(features, labels)
    mlflow.set_tracking_uri(tracking_uri)
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    experiment_id = _experiment_id(client, f"{experiment_prefix}{model_name}")
    with mlflow.start_run(experiment_id=experiment_id, run_name="bootstrap"):
        mlflow.log_params({"model_name": model_name, "task": result.task, "source": "bootstrap",
                           "n_train": result.n_train, "holdout_share": 0.0})
        mlflow.log_metrics(result.metrics)
        mlflow.log_dict(training_profiles(features), PROFILE_ARTIFACT)
        info = mlflow.sklearn.log_model(result.model, name="model", registered_model_name=registered,
                                        pip_requirements=pip_requirements(),
                                        serialization_format=SERIALIZATION)
    version = str(info.registered_model_version)
    ModelRegistry(tracking_uri).set_champion(registered, version)
    return version


@model.command()
@click.argument("model_name")
@click.option("--from", "source", type=click.Path(path_type=Path, dir_okay=False), required=True,
              help="CSV of labelled rows: feature columns and a label column.")
@click.option("--label", default="label", show_default=True, help="The label column.")
def bootstrap(model_name: str, source: Path, label: str) -> None:
    """Train a first model from a CSV and make it the champion."""
    settings = load_settings()
    require_trainer_extra()
    features, labels = read_labelled_csv(source, label)
    registered = settings.mlflow.registered_name(model_name)
    try:
        version = bootstrap_champion(settings.mlflow.tracking_uri, registered, model_name,
                                     features, labels, settings.mlflow.experiment_prefix)
    except ValueError as exc:
        raise BadInput(f"{source}: {exc}") from None
    click.echo(f"{registered} version {version} registered from {len(labels)} row(s); "
               f"alias 'champion' -> {version}")


async def publish(settings: Any, items: list[tuple[str, bytes, bytes]]) -> None:
    from aiokafka import AIOKafkaProducer

    from streams.admin import client_options, ensure_topics

    await ensure_topics(settings.kafka, [topic for topic, _, _ in items])
    producer = AIOKafkaProducer(**client_options(settings.kafka), acks="all")
    await producer.start()
    try:
        for topic, key, value in items:
            await producer.send_and_wait(topic, key=key, value=value)
    finally:
        await producer.stop()


def rollback_model(settings: Any, model_name: str, reason: str) -> Any:
    """Move ``champion`` back to ``previous_champion``; record and announce the decision."""
    from datetime import UTC, datetime

    from governance import interventions
    from integrations.registry import ModelRegistry
    from storage.db import make_engine
    from storage.governance_repository import save_promotion_events

    try:
        event = interventions.rollback(
            ModelRegistry(settings.mlflow.tracking_uri), model_name=model_name,
            registered=settings.mlflow.registered_name(model_name), reason=reason,
            actor=_local_user(), via="driftline model rollback", now=datetime.now(UTC))
    except LookupError as exc:
        raise BadInput(str(exc)) from None
    engine = make_engine(settings.database_url, pool_size=1)
    try:
        save_promotion_events(engine, [event])
    finally:
        engine.dispose()
    asyncio.run(publish(settings, interventions.announcements(event, settings.kafka.topics)))
    return event


def _local_user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name (some containers)
        return "unknown user"


@model.command()
@click.argument("model_name")
@click.option("--reason", default="manual rollback", show_default=True)
def rollback(model_name: str, reason: str) -> None:
    """Point 'champion' back at 'previous_champion' (recorded as a decision)."""
    settings = load_settings()
    event = rollback_model(settings, model_name, reason)
    click.echo(f"{event.registered_model}: champion {event.champion_version} -> "
               f"{event.candidate_version} (decision {event.event_id})")


@model.command()
@click.argument("model_name")
def status(model_name: str) -> None:
    """Show which versions the 'champion' and 'previous_champion' aliases name."""
    from integrations.registry import CHAMPION, PREVIOUS, ModelRegistry

    settings = load_settings()
    registered = settings.mlflow.registered_name(model_name)
    registry = ModelRegistry(settings.mlflow.tracking_uri)
    for alias in (CHAMPION, PREVIOUS):
        version = registry.alias(registered, alias)
        click.echo(f"{alias}: {version.version if version else '-'}")

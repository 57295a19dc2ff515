"""``driftline reference set MODEL VERSION --from FILE``: give a model version an explicit
reference, instead of the first events it sees on the stream."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from cli.errors import BadInput
from cli.helptext import WholeHelpGroup
from cli.settings_util import load_settings


def _calibration(path: Path, target: str, prediction: str, proba: tuple[str, ...],
                 positive_label: str | None, window_size: int) -> dict[str, Any]:
    """Estimation's reference from a labelled file: the isotonic calibration and the
    reference metrics with their spread at the stream's window size."""
    from cli.estimate import _class_index, _labels, _probabilities, resolve_task
    from cli.tabular import read_table
    from drift.estimation import classification_baseline, fit_calibration

    table = read_table(path)
    for name in (target, prediction):
        if name not in table.column_names:
            raise BadInput(f"{path}: no column '{name}'")
    task = resolve_task(table, path, target, prediction, proba, positive_label)
    if task.problem == "regression":
        raise BadInput("--target calibrates classifiers on the stream: give their --proba "
                       "column(s); regressors are estimated with `driftline estimate`")
    labels = _class_index(_labels(table, path, target), task, path, target)
    predicted = _class_index(_labels(table, path, prediction), task, path, prediction)
    raw = _probabilities(table, path, task)
    positive = 1 if task.problem == "binary" else None
    scores = raw[:, 0] if positive is not None else raw
    calibration = fit_calibration(scores, [task.classes[i] for i in labels], task.classes,
                                  task.positive)
    baseline = classification_baseline(labels, predicted, scores, len(task.classes), positive,
                                       window_size)
    return {"calibration": calibration.to_dict(), "baseline": baseline.to_dict()}


def _document(path: Path, config_path: Path | None, limit: int,
              exclude: tuple[str, ...] = ()) -> tuple[dict[str, Any], str]:
    """The profile document for FILE, with exact values only when the message stays small."""
    import orjson

    from cli.detect import build_profiles, load_config, read_reference, resolve_kind
    from drift import EXACT_VALUES_LIMIT, NumericProfile, profiles_to_dict

    config = load_config(config_path)
    side = read_reference(path)
    if side.profiles is not None:
        profiles = dict(side.profiles)
    else:
        names = [name for name in side.columns
                 if not config.column(name).ignore and name not in exclude]
        if not names:
            raise BadInput(f"{path}: no columns to profile")
        kinds = {name: resolve_kind(name, side, None, config) for name in names}
        profiles = build_profiles(side, names, kinds, config, exact_limit=EXACT_VALUES_LIMIT)
    document = profiles_to_dict(profiles)
    note = "exact values kept"
    if len(orjson.dumps(document)) > limit * 0.9:
        # Too big for one Kafka message: keep the quantile sketch, drop the exact values.
        profiles = {name: dataclasses.replace(p, values=None) if isinstance(p, NumericProfile)
                    else p for name, p in profiles.items()}
        document = profiles_to_dict(profiles)
        note = "quantile sketches only (KS within 1/1000 of exact)"
        if len(orjson.dumps(document)) > limit * 0.9:
            raise BadInput(f"{path}: the profile of {len(profiles)} features is larger than "
                           f"LIMITS__MAX_PROFILE_BYTES ({limit}) even without exact values")
    return document, note


async def _publish(settings: Any, model: str, value: bytes) -> str:
    from aiokafka import AIOKafkaProducer

    from streams.admin import client_options, ensure_topics

    topic = settings.kafka.topics.name("reference_profiles")
    await ensure_topics(settings.kafka, [topic])
    producer = AIOKafkaProducer(**client_options(settings.kafka), acks="all",
                                max_request_size=settings.limits.max_profile_bytes + 4096)
    await producer.start()
    try:
        await producer.send_and_wait(topic, key=model.encode(), value=value)
    finally:
        await producer.stop()
    return topic


@click.group(cls=WholeHelpGroup)
def reference() -> None:
    """Explicit references for model versions."""


@reference.command(name="set")
@click.argument("model")
@click.argument("version")
@click.option("--from", "source", required=True, type=click.Path(path_type=Path),
              help="A CSV or Parquet file of reference rows, or a profile from `driftline profile`.")
@click.option("--config", "config_path", type=click.Path(path_type=Path), default=None,
              help="TOML file with kinds, bins and ignored columns (as for `driftline detect`).")
@click.option("--target", default=None,
              help="The file is labelled: calibrate the version's performance estimation on "
                   "it (classifiers; with --prediction and --proba as for `driftline estimate`).")
@click.option("--prediction", default=None, help="With --target: the prediction column.")
@click.option("--proba", multiple=True,
              help="With --target: the positive class's probability column (binary), or "
                   "CLASS=COLUMN per class (multiclass).")
@click.option("--positive-label", default=None, help="With --target: the positive class.")
def set_reference(model: str, version: str, source: Path, config_path: Path | None,
                  target: str | None, prediction: str | None, proba: tuple[str, ...],
                  positive_label: str | None) -> None:
    """Freeze FILE as the reference MODEL VERSION's windows are tested against.

    The worker applies it to the version's state as soon as it reads it: collected reference
    events are discarded, and the open window continues against the new reference.
    """
    from aiokafka.errors import KafkaError

    from schemas.events import ReferenceProfileEvent, decode
    from schemas.spec import SCHEMA_VERSION, InvalidEvent
    from storage.audit import AuditUnavailable, audited, cli_entry
    from storage.db import make_engine

    settings = load_settings()
    if not source.is_file():
        raise BadInput(f"{source}: no such file")
    limits = settings.limits.for_events(profile=True)
    calibration = None
    exclude: tuple[str, ...] = ()
    if target is not None:
        if prediction is None or not proba:
            raise BadInput("--target needs --prediction and --proba")
        calibration = _calibration(source, target, prediction, proba, positive_label,
                                   settings.performance.window_size)
        # the label and the model's outputs are not inputs: they stay out of the profile
        exclude = (target, prediction, *(p.partition("=")[2] or p for p in proba))
    elif prediction is not None or proba or positive_label is not None:
        raise BadInput("--prediction, --proba and --positive-label go with --target")
    document, note = _document(source, config_path, limits.max_payload_bytes, exclude)
    if calibration is not None:
        document["calibration"] = calibration
        note += ", with the calibration of performance estimation"
    record = ReferenceProfileEvent(
        event_id=str(uuid.uuid4()), schema_version=SCHEMA_VERSION, model_name=model,
        model_version=version, timestamp=datetime.now(UTC).isoformat(), profile=document)
    value = record.dumps()
    try:
        decode(value, ReferenceProfileEvent, limits)  # what the worker will check
    except InvalidEvent as exc:
        raise BadInput(f"reference for {model} {version}: {exc.reason}") from None
    engine = make_engine(settings.database_url, pool_size=1)
    try:
        with audited(engine, cli_entry("reference set", details={
                "model": model, "version": version, "source": source.name,
                "event_id": record.event_id, "features": len(document["features"])})) as call:
            try:
                topic = asyncio.run(_publish(settings, model, value))
            except KafkaError as exc:
                call.status = 503
                raise click.ClickException(f"kafka: {exc}") from None
    except AuditUnavailable as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        engine.dispose()
    click.echo(f"published the reference of {model} {version} ({len(document['features'])} "
               f"features, {note}, {len(value):,} bytes) to {topic}")

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


def _document(path: Path, config_path: Path | None, limit: int) -> tuple[dict[str, Any], str]:
    """The profile document for FILE, with exact values only when the message stays small."""
    import orjson

    from cli.detect import build_profiles, load_config, read_reference, resolve_kind
    from drift import EXACT_VALUES_LIMIT, NumericProfile, profiles_to_dict

    config = load_config(config_path)
    side = read_reference(path)
    if side.profiles is not None:
        profiles = dict(side.profiles)
    else:
        names = [name for name in side.columns if not config.column(name).ignore]
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
def set_reference(model: str, version: str, source: Path, config_path: Path | None) -> None:
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
    document, note = _document(source, config_path, limits.max_payload_bytes)
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

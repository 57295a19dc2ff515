"""``driftline replay FILE.jsonl --topic features``: produce JSON lines to a topic."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from cli.errors import BadInput
from cli.settings_util import load_settings

#: undecodable (not UTF-8) lines after which a file is taken for binary and refused whole
MAX_UNDECODABLE = 5
#: topic -> the record its lines are validated against (other topics: JSON objects only)
VALIDATED = {"features": "FeatureEvent", "predictions": "PredictionEvent", "labels": "LabelEvent"}


class Unavailable(click.ClickException):
    """A service the command needs is down (exit 1), said like the CLI's other errors."""

    def show(self, file: Any = None) -> None:
        click.echo(f"driftline: error: {self.format_message()}", err=True)


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            stripped = line.strip()
            if stripped:
                yield number, stripped


def _undecodable(line: bytes) -> str | None:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"not UTF-8 text (byte 0x{line[exc.start]:02x} at position {exc.start})"
    return None


def count_lines(path: Path) -> int:
    """The file's non-empty lines; a file whose first lines are not text is refused whole,
    with one message, instead of one error per line of a binary file."""
    total, undecodable = 0, []
    for number, line in _lines(path):
        total += 1
        if _undecodable(line) is not None:
            undecodable.append(number)
            if len(undecodable) >= MAX_UNDECODABLE:
                raise BadInput(
                    f"{path}: not a JSON-lines text file: lines "
                    f"{', '.join(map(str, undecodable))} are not UTF-8 text; stopped after "
                    f"{MAX_UNDECODABLE} such lines without sending anything")
    return total


def check_line(raw: bytes, record: Any, limits: Any) -> tuple[bytes | None, str | None]:
    """Return (key, None) for a good line, (None, reason) for a bad one."""
    import orjson

    reason = _undecodable(raw)
    if reason is not None:
        return None, reason
    from schemas.events import decode
    from schemas.spec import InvalidEvent

    if record is not None:
        try:
            event = decode(raw, record, limits)
        except InvalidEvent as exc:
            return None, exc.reason
        return event.model_name.encode(), None
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return None, f"not valid JSON: {exc}"
    if not isinstance(obj, dict):
        return None, "not a JSON object"
    name = obj.get("model_name")
    return (name.encode() if isinstance(name, str) else None), None


def shard_target(settings: Any, line: bytes, key: bytes) -> tuple[bytes, int | None]:
    """A sharded model's feature event goes straight to its shard's partition (README,
    "Shards and sampling"); anything else keeps its model key and Kafka's partitioner."""
    import orjson

    model = key.decode()
    shards = settings.drift.for_model(model)["shards"]
    if shards <= 1:
        return key, None
    event_id = orjson.loads(line).get("event_id")
    try:  # the worker hashes the id as it decodes it: canonical (lowercase, hyphenated)
        canonical = str(uuid.UUID(event_id))
    except (TypeError, ValueError, AttributeError):
        return key, None  # the worker re-sends it if it lands elsewhere
    from streams.shards import placement

    return placement(model, canonical, shards, settings.kafka.partitions)


@contextmanager
def line_trace(topic: str, number: int) -> Iterator[list[tuple[str, bytes]] | None]:
    """With tracing on, a new trace for one line: its root span lasts the block, and the block
    gets the span's context as Kafka headers (W3C ``traceparent``) to send with the line."""
    from observability import tracing

    span = tracing.start_span(f"send {topic}", kind=tracing.SpanKind.PRODUCER, root=True, attributes={
        "messaging.system": "kafka", "messaging.operation.type": "send",
        "messaging.destination.name": topic, "driftline.replay.line": number})
    if span is None:
        yield None
        return
    with span, tracing.activate(span):
        yield tracing.inject(None)


async def _produce(path: Path, topic: str, rate: float | None, raw: bool,
                   total: int) -> tuple[int, list[str]]:
    from aiokafka import AIOKafkaProducer

    from schemas import events
    from streams.admin import client_options, ensure_topics

    settings = load_settings()
    logical = topic
    topic = f"{settings.kafka.topics.prefix}{topic}"
    record = None if raw or logical not in VALIDATED else getattr(events, VALIDATED[logical])
    limits = settings.limits.for_events()
    await ensure_topics(settings.kafka, [topic])
    producer = AIOKafkaProducer(**client_options(settings.kafka), acks="all",
                                enable_idempotence=True, linger_ms=5)
    await producer.start()
    sent, bad, pending = 0, [], []
    started = time.monotonic()
    try:
        with click.progressbar(length=total, label=f"replaying to {topic}", file=None) as bar:
            for number, line in _lines(path):
                key, reason = check_line(line, record, limits)
                if reason is not None and not raw:
                    bad.append(f"line {number}: {reason}")
                    bar.update(1)
                    continue
                partition = None
                if key is not None and logical == "features":
                    key, partition = shard_target(settings, line, key)
                with line_trace(topic, number) as headers:
                    pending.append(await producer.send(topic, value=line, key=key,
                                                       partition=partition, headers=headers))
                sent += 1
                bar.update(1)
                if len(pending) >= 1000:
                    await asyncio.gather(*pending)
                    pending.clear()
                if rate:
                    ahead = sent / rate - (time.monotonic() - started)
                    if ahead > 0:
                        await asyncio.sleep(ahead)
            await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return sent, bad


@click.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--topic", required=True, help="Topic name (the TOPICS prefix is applied).")
@click.option("--rate", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Events per second (default: as fast as possible).")
@click.option("--raw", is_flag=True,
              help="Send every line as it is, without validation (to re-drive dead letters).")
def replay(file: Path, topic: str, rate: float | None, raw: bool) -> None:
    """Produce FILE (JSON lines, one event per line) to TOPIC, keyed by model_name.

    Lines that are not valid events are reported with their line numbers and skipped;
    the command then exits with status 2.
    """
    if not file.is_file():
        raise BadInput(f"{file}: no such file")
    try:
        total = count_lines(file)
    except OSError as exc:
        raise BadInput(f"{file}: cannot read: {exc.strerror}") from None
    from aiokafka.errors import KafkaConnectionError, KafkaError

    from observability import tracing

    settings = load_settings()
    # this command says itself when the broker cannot be reached; aiokafka's own line about
    # each failed connection attempt would only repeat it
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    tracing.configure(settings.tracing, component="replay")
    try:
        sent, bad = asyncio.run(_produce(file, topic, rate, raw, total))
        topic = f"{settings.kafka.topics.prefix}{topic}"
    except (KafkaConnectionError, ConnectionError, TimeoutError) as exc:
        from cli.stack import shell_command

        raise Unavailable(
            f"Kafka is not reachable at {settings.kafka.bootstrap_servers} — start it with "
            f"`{shell_command()} stack up` (or set KAFKA__BROKER) [{type(exc).__name__}]") from None
    except KafkaError as exc:
        raise Unavailable(f"kafka: {exc}") from None
    finally:
        tracing.shutdown()  # exports what is pending
    for line in bad[:50]:
        click.echo(f"{file}: {line}", err=True)
    if len(bad) > 50:
        click.echo(f"{file}: … and {len(bad) - 50} more bad lines", err=True)
    click.echo(f"sent {sent} event(s) to {topic}; {len(bad)} bad line(s) skipped")
    if bad:
        raise SystemExit(2)

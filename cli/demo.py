"""``driftline demo``: start the stack, stream traffic whose distribution shifts halfway, and
show the drift events as the worker publishes them."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import orjson

from cli.settings_util import load_settings

DRIFTLINE = str(Path(sys.executable).parent / "driftline")


def _driftline(*args: str, env: dict[str, str] | None = None, capture: bool = False) -> str:
    result = subprocess.run(  # noqa: S603
        [DRIFTLINE, *args], env=env, text=True,
        stdout=subprocess.PIPE if capture else None, check=False)
    if result.returncode != 0:
        raise click.ClickException(f"`driftline {' '.join(args)}` failed (exit {result.returncode})")
    return result.stdout or ""


def _stack_env(services: str) -> dict[str, str]:
    env: dict[str, str] = {}
    for line in _driftline("stack", "env", "--only", services, capture=True).splitlines():
        if line.startswith("export ") and "=" in line:
            name, _, value = line.removeprefix("export ").partition("=")
            env[name] = value.strip().strip("'\"")
    return env


WINDOW_TESTS = ("ks", "chi2")


def _line(d: dict[str, Any]) -> str:
    if d["test"] not in WINDOW_TESTS:
        return click.style(f"  event  {d['window_start_seq']:>5}        {d['feature']:<10} "
                           f"online detector {d['test']} fired", fg="yellow")
    mark = click.style(f"drifted ({d['severity']})", fg="red") if d["drifted"] else \
        click.style("ok", fg="green")
    alert = {"fired": click.style("  ALERT FIRED", fg="red", bold=True),
             "ongoing": "  alert ongoing", "recovered": click.style("  RECOVERED", fg="green"),
             }.get(d.get("alert", "none"), "")
    p = "—" if d["p_value"] is None else f"{d['p_value']:.2e}"
    effect = "—" if d.get("effect") is None else f"{d['effect']:.3f}"
    return (f"  events {d['window_start_seq']:>5}–{d['window_end_seq']:<5} {d['feature']:<10} "
            f"{d['test']:<4} stat={d['statistic']:<8.3f} p={p:<9} psi={effect:<6} {mark}{alert}")


async def _watch(broker: str, topic: str, expected: int, timeout: float) -> list[dict[str, Any]]:
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(topic, bootstrap_servers=broker.removeprefix("kafka://"),
                                auto_offset_reset="earliest", group_id=None)
    await consumer.start()
    seen: list[dict[str, Any]] = []
    try:
        deadline = time.monotonic() + timeout
        windows = 0
        while windows < expected and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    event = orjson.loads(record.value)
                    seen.append(event)
                    windows += event["test"] in WINDOW_TESTS
                    click.echo(_line(event))
    finally:
        await consumer.stop()
    return seen


@click.command()
@click.option("--events", default=6000, show_default=True, type=click.IntRange(min=3000),
              help="Events to stream; the shift starts halfway.")
@click.option("--rate", default=3000.0, show_default=True, type=click.FloatRange(min=1),
              help="Events per second.")
@click.option("--keep-stack", is_flag=True, help="Leave the services running afterwards.")
def demo(events: int, rate: float, keep_stack: bool) -> None:
    """Stream feature traffic with a shift halfway and show what driftline does about it."""
    from cli.traffic import TrafficSpec, feature_events

    settings = load_settings()
    services = "kafka,postgres"
    was_running = subprocess.run(  # noqa: S603
        [DRIFTLINE, "stack", "status", "--only", services, "--check"],
        capture_output=True, check=False).returncode == 0
    click.secho("1. starting the stack (Kafka KRaft, PostgreSQL)", bold=True)
    _driftline("stack", "up", "--only", services)
    stack = _stack_env(services)
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    workdir = (settings.state_dir / "demo" / stamp).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **stack, "APP_ID": f"driftline-demo-{stamp}",
           "KAFKA__TOPICS__PREFIX": f"demo-{stamp}-", "WEB_ENABLED": "false",
           "PYTHONUNBUFFERED": "1"}
    spec = TrafficSpec(model_name="credit-risk", model_version="1",
                       numeric=("income", "age", "debt_ratio"), categorical=("channel",),
                       shifted=("income",), mass_shifted=("channel",), shift_at=events // 2,
                       shift_sigma=1.0, mass_shift=0.2)
    traffic = workdir / "traffic.jsonl"
    traffic.write_bytes(b"\n".join(orjson.dumps(e) for e in feature_events(spec, events)) + b"\n")

    click.secho("2. starting a worker", bold=True)
    log_path = workdir / "worker.log"
    with log_path.open("wb") as log:
        worker = subprocess.Popen(  # noqa: S603
            [DRIFTLINE, "worker", "-l", "info"], env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while "[^Worker]: Ready" not in log_path.read_text(errors="replace"):
            if worker.poll() is not None or time.monotonic() > deadline:
                raise click.ClickException(f"worker did not start; see {log_path}")
            time.sleep(0.3)
        windows = (events - settings.drift.reference_size) // settings.drift.window_size
        features = len(spec.numeric) + len(spec.categorical)
        click.secho(f"3. streaming {events} events at {rate:.0f}/s to {env['KAFKA__TOPICS__PREFIX']}"
                    f"features; income shifts by 1σ and channel by 0.2 of its mass from event "
                    f"{spec.shift_at}", bold=True)
        replay = subprocess.Popen(  # noqa: S603
            [DRIFTLINE, "replay", str(traffic), "--topic", "features", "--rate", str(rate)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        click.secho(f"4. drift events as they arrive (reference = first "
                    f"{settings.drift.reference_size} events, windows of "
                    f"{settings.drift.window_size}):", bold=True)
        seen = asyncio.run(_watch(stack["KAFKA__BROKER"],
                                  f"{env['KAFKA__TOPICS__PREFIX']}drift-events",
                                  windows * features, timeout=events / rate + 120))
        if replay.wait(timeout=120) != 0:
            raise click.ClickException("replay failed")
        tested = [d for d in seen if d["test"] in WINDOW_TESTS]
        fired = sorted((d["feature"], d["window_start_seq"]) for d in tested
                       if d.get("alert") == "fired")
        click.secho("5. summary", bold=True)
        click.echo(f"  {len(tested)} window test results over {windows} windows, "
                   f"{len(seen) - len(tested)} online-detector detections")
        click.echo("  alerts (a feature drifted in 2 of the last 3 windows): "
                   + (", ".join(f"{f} at the window from event {s}" for f, s in fired) or "none"))
        lone = sorted({d["feature"] for d in tested if d["drifted"]} - {f for f, _ in fired})
        if lone:
            click.echo(f"  drifted in a single window without an alert: {', '.join(lone)}")
        time.sleep(2)  # let the sink's last batch land
        _show_rows(stack["DATABASE__URL"], seen)
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(timeout=60)
        click.echo(f"  worker stopped; its log: {log_path}")
        if not keep_stack and not was_running:
            _driftline("stack", "down", "--only", services)


def _show_rows(url: str, seen: list[dict[str, Any]]) -> None:
    from sqlalchemy import func, select

    from storage.db import make_engine
    from storage.models import DriftResult

    engine = make_engine(url)
    ids = [d["event_id"] for d in seen]
    import uuid

    with engine.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(DriftResult).where(
            DriftResult.event_id.in_([uuid.UUID(i) for i in ids]))).scalar_one()
    engine.dispose()
    click.echo(f"  {stored} of {len(ids)} drift events stored in PostgreSQL table drift_results")

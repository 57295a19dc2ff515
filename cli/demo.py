"""``driftline demo``: the whole system on real traffic.

It starts the stack (Kafka, PostgreSQL, MLflow, an SMTP sink), registers a champion model,
starts the reference trainer and a worker, and streams a model's production traffic —
features, the champion's predictions, and delayed labels — whose inputs shift and whose
input→label relationship changes halfway. Then it prints what driftline does: drift results
per window, the alerts that fire, the retrain decision, the training job's progress, the
significance-tested promotion, the aliases in MLflow and the e-mails that arrived.
"""

from __future__ import annotations

import asyncio
import math
import os
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
import orjson

from cli.demo_support import (
    Narrator,
    default_mailbox,
    describe_window,
    free_port,
    output_to,
    read_mails,
    start_process,
    stop_process,
    wait_for,
)
from cli.settings_util import load_settings
from reports.verdicts import WINDOW_TESTS

DRIFTLINE = str(Path(sys.executable).parent / "driftline")
SERVICES = "kafka,postgres,mlflow,smtp"
REGIONS = ("north", "south", "east", "west")


def _driftline(*args: str, capture: bool = False) -> str:
    result = subprocess.run([DRIFTLINE, *args], text=True, check=False,  # noqa: S603
                            stdout=subprocess.PIPE if capture else None)
    if result.returncode != 0:
        raise click.ClickException(f"`driftline {' '.join(args)}` failed (exit {result.returncode})")
    return result.stdout or ""


def _stack_up() -> None:
    """``stack up``, its progress shown as it comes, but not its closing hint: the demo uses
    the stack itself and stops it afterwards."""
    from cli.stack import USE_HINT

    with subprocess.Popen([DRIFTLINE, "stack", "up", "--only", SERVICES],  # noqa: S603
                          stdout=subprocess.PIPE, text=True) as process:
        assert process.stdout is not None
        for line in process.stdout:
            if not line.startswith(USE_HINT):
                click.echo(line, nl=False)
    if process.returncode != 0:
        raise click.ClickException(f"`driftline stack up` failed (exit {process.returncode})")


def _stack_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for line in _driftline("stack", "env", "--only", SERVICES, capture=True).splitlines():
        if line.startswith("export ") and "=" in line:
            name, _, value = line.removeprefix("export ").partition("=")
            env[name] = value.strip().strip("'\"")
    return env


# -- traffic ----------------------------------------------------------------------------------
def truth(features: dict[str, Any], changed: bool) -> str:
    """The world: before the change the label follows x1 + x2/2; after it, x2 - x1/2."""
    if changed:
        score = features["x2"] - 0.5 * features["x1"] + (0.3 if features["region"] == "east" else 0)
    else:
        score = features["x1"] + 0.5 * features["x2"] + (0.3 if features["region"] == "north" else 0)
    return "yes" if score > 0 else "no"


def outcome(features: dict[str, Any], changed: bool, rng: random.Random) -> str:
    """A customer's real outcome: "yes" with probability sigmoid(4 × the world's score), so
    the closer to the boundary, the less certain — and crowding there costs accuracy even
    before the rule changes."""
    score = (features["x2"] - 0.5 * features["x1"] + (0.3 if features["region"] == "east" else 0)
             if changed else
             features["x1"] + 0.5 * features["x2"] + (0.3 if features["region"] == "north" else 0))
    return "yes" if rng.random() < 1 / (1 + math.exp(-4 * score)) else "no"


def _noisy(label: str, rng: random.Random, rate: float = 0.05) -> str:
    """Real labels are noisy: a few are wrong whatever the model does."""
    return label if rng.random() >= rate else ("no" if label == "yes" else "yes")


def champion_probability(features: dict[str, Any]) -> float:
    """What the champion (trained on the old world) predicts."""
    score = features["x1"] + 0.5 * features["x2"] + (0.3 if features["region"] == "north" else 0)
    return round(1 / (1 + math.exp(-3 * score)), 6)


def _event_id(model: str, rng: random.Random) -> str:
    """Seeded, and distinct per model: sinks are idempotent on ``event_id``, so two models'
    traffic (two demo runs, or a test beside a demo on one database) must not share ids."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"driftline-demo:{model}:{rng.getrandbits(128)}"))


def traffic(model: str, n: int, shift_at: int, seed: int = 42) -> Iterator[tuple[str, dict]]:
    """(topic, event) in arrival order. Before ``shift_at`` events are a few days old; after
    it, the last few hours — which the trainer and the promotion check look at."""
    rng = random.Random(seed)  # noqa: S311 - synthetic traffic
    now = datetime.now(UTC)
    labels: list[tuple[int, dict]] = []
    for i in range(n):
        changed = i >= shift_at
        when = (now - timedelta(days=2) + timedelta(seconds=10 * i) if not changed
                else now - timedelta(hours=3) + timedelta(seconds=3 * (i - shift_at)))
        x1, x2 = rng.gauss(0.0, 1.0), rng.gauss(0.0, 1.0)
        if changed:  # new customers crowd where the champion is unsure (x1 + x2/2 near 0)
            x1 = -0.5 * x2 + 0.35 * x1
        features = {"x1": round(x1, 4), "x2": round(x2, 4),
                    "region": rng.choices(REGIONS, weights=(1, 1, 3, 1) if changed else (2, 1, 1, 1))[0]}
        p_yes = champion_probability(features)
        base = {"schema_version": 1, "model_name": model, "model_version": "1",
                "timestamp": when.isoformat()}
        prediction_id = _event_id(model, rng)
        yield "features", {**base, "event_id": _event_id(model, rng), "features": features}
        yield "predictions", {**base, "event_id": prediction_id,
                              "prediction": "yes" if p_yes > 0.5 else "no",
                              "probabilities": {"yes": p_yes, "no": round(1 - p_yes, 6)},
                              "features": features}
        # outcomes are known a while later: more than a window of predictions
        labels.append((i + rng.randrange(600, 1100), {
            **base, "event_id": _event_id(model, rng),
            "timestamp": (when + timedelta(minutes=20)).isoformat(),
            "prediction_event_id": prediction_id, "label": outcome(features, changed, rng),
            "prediction_timestamp": when.isoformat()}))
        while labels and labels[0][0] <= i:  # labels arrive a while later, roughly in order
            yield "labels", labels.pop(0)[1]
            labels.sort(key=lambda item: item[0])
    for _, label in labels:
        yield "labels", label


async def produce_traffic(broker: str, prefix: str, model: str,
                          items: list[tuple[str, dict]], rate: float) -> None:
    """Send ``traffic`` in order, keyed by the model, at about ``rate`` messages/s."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=broker.removeprefix("kafka://"), acks="all",
                                linger_ms=5)
    await producer.start()
    try:
        started, pending = time.monotonic(), []
        for i, (topic, event) in enumerate(items):
            pending.append(await producer.send(f"{prefix}{topic}", key=model.encode(),
                                               value=orjson.dumps(event)))
            ahead = (i + 1) / rate - (time.monotonic() - started)
            if ahead > 0:
                await asyncio.sleep(ahead)
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


# -- what driftline did -------------------------------------------------------------------------
def _describe_drift(record: dict[str, Any], windows: dict[tuple, list], tell: Narrator,
                    thresholds: Any) -> None:
    if record["kind"] in ("performance_drop", "estimated_performance_drop") \
            and record["test"] == "drop_rule":
        if record.get("alert") == "fired" and record["feature"] == "accuracy":
            estimated = record["kind"] == "estimated_performance_drop"
            tell.line(click.style(
                f"  {'estimated' if estimated else 'labels confirm:'} accuracy fell to "
                f"{record['statistic']:.3f} (reference {record['tests']['reference']['statistic']:.3f})"
                f" on {'predictions' if estimated else 'labelled predictions'} "
                f"{record['window_start_seq']}-{record['window_end_seq']}"
                + (", before any of their labels (CBPE)" if estimated else "") + " ALERT",
                fg="red", bold=True))
        return
    if record["test"] not in WINDOW_TESTS:
        return
    key = (record["kind"], record["window_start_seq"])
    windows.setdefault(key, []).append(record)
    expected = 3 if record["kind"] == "data_drift" else 2
    if len(windows[key]) == expected:
        tell.line(describe_window(windows.pop(key), thresholds))


async def _follow(broker: str, prefix: str, tell: Narrator, thresholds: Any,
                  timeout: float) -> dict[str, Any] | None:
    from aiokafka import AIOKafkaConsumer

    names = ("drift-events", "retrain-requests", "training-jobs", "promotion-events")
    consumer = AIOKafkaConsumer(*(f"{prefix}{n}" for n in names),
                                bootstrap_servers=broker.removeprefix("kafka://"),
                                auto_offset_reset="earliest", group_id=None)
    await consumer.start()
    windows: dict[tuple, list] = {}
    decision: dict[str, Any] | None = None
    fired: set[str] = set()  # which accuracy drops (estimated, realized) were shown
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=300)).values():
                for message in records:
                    record = orjson.loads(message.value)
                    if message.topic.endswith("drift-events"):
                        _describe_drift(record, windows, tell, thresholds)
                        if record["feature"] == "accuracy" and record.get("alert") == "fired":
                            fired.add(record["kind"])
                        continue
                    tell.loop_record(message.topic, record)
                    if message.topic.endswith("promotion-events"):
                        decision = dict(record)
                        # labels confirm an estimated drop later than the loop acts on inputs:
                        # wait a little for that confirmation, then stop
                        deadline = min(deadline, time.monotonic() + 30)
                    if message.topic.endswith("training-jobs") and record["status"] in (
                            "failed", "cancelled"):
                        return None
            if decision is not None and ("performance_drop" in fired
                                         or "estimated_performance_drop" not in fired):
                return decision
        return decision
    finally:
        tell.flush()
        await consumer.stop()


async def _stream_and_follow(broker: str, prefix: str, model: str, items: list[tuple[str, dict]],
                             rate: float, tell: Narrator, thresholds: Any) -> dict[str, Any] | None:
    producing = asyncio.create_task(produce_traffic(broker, prefix, model, items, rate))
    try:
        return await _follow(broker, prefix, tell, thresholds,
                             timeout=len(items) / rate + 240)
    finally:
        if not producing.done():
            producing.cancel()
        await asyncio.gather(producing, return_exceptions=True)


@click.command()
@click.option("--events", default=6000, show_default=True, type=click.IntRange(min=4000),
              help="Rows of traffic (features, predictions and labels each); the change is halfway.")
@click.option("--rate", default=1500.0, show_default=True, type=click.FloatRange(min=1),
              help="Messages per second across the three topics.")
@click.option("--keep-stack", is_flag=True, help="Leave the services running afterwards.")
def demo(events: int, rate: float, keep_stack: bool) -> None:
    """Stream a model's traffic through a change and show what driftline does about it."""
    from cli.model_cmd import bootstrap_champion
    from integrations.registry import ModelRegistry

    settings = load_settings()
    was_running = subprocess.run([DRIFTLINE, "stack", "status", "--only", SERVICES, "--check"],  # noqa: S603
                                 capture_output=True, check=False).returncode == 0
    say = click.echo
    say(click.style("1. the stack: Kafka (KRaft), PostgreSQL, MLflow, an SMTP sink", bold=True))
    _stack_up()
    stack = _stack_env()
    mailbox = default_mailbox()
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    workdir = (settings.state_dir / "demo" / stamp).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    model, recipient = f"credit-risk-{stamp}", f"ml-team-{stamp}@example.test"
    env = {**os.environ, **stack, "APP_ID": f"demo-{stamp}", "KAFKA__TOPICS__PREFIX": f"demo-{stamp}-",
           "WEB_ENABLED": "false", "PYTHONUNBUFFERED": "1", "STATE_DIR": str(workdir / "state"),
           "SMTP__RECIPIENTS": recipient, "TRAINER__POLL_SECONDS": "0.5",
           "TRAINER__STEP_DELAY": "0.3", "TRAINER__WINDOW_HOURS": "12",
           "PROMOTION__WINDOW_HOURS": "12", "PERFORMANCE__WINDOW_SIZE": "500"}
    trainer = worker = None
    try:
        say(click.style(f"2. a champion for {model}, trained on how the world used to be", bold=True))
        history = [next(traffic(model, 1, 10**9, seed=s))[1]["features"] for s in range(600)]
        registered = settings.mlflow.registered_name(model)
        noise = random.Random(7)  # noqa: S311 - synthetic labels
        # MLflow's own INFO/WARNING lines and links are for the log, not the story
        with output_to(workdir / "mlflow.log"):
            version = bootstrap_champion(stack["MLFLOW__TRACKING_URI"], registered, model,
                                         history,
                                         [_noisy(truth(f, changed=False), noise) for f in history])
        say(f"  {model} v{version} registered in MLflow; alias 'champion' -> v{version}")

        say(click.style("3. the reference trainer and a worker", bold=True))
        port = free_port()
        env["TRAINER__URL"] = f"http://127.0.0.1:{port}"
        trainer = start_process(["trainer", "--port", str(port)], env, workdir / "trainer.log")
        worker = start_process(["worker", "-l", "info"], env, workdir / "worker.log")
        import httpx

        def trainer_up() -> bool:
            try:
                return httpx.get(f"{env['TRAINER__URL']}/health", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(trainer_up, trainer, "trainer", workdir / "trainer.log")
        wait_for(lambda: "[^Worker]: Ready" in (workdir / "worker.log").read_text(errors="replace"),
                  worker, "worker", workdir / "worker.log")

        shift = events // 2
        items = list(traffic(model, events, shift))
        say(click.style(f"4. streaming {events} rows (features, predictions, labels) at "
                        f"{rate:.0f} msg/s; from row {shift} x1 and region shift and the label "
                        "follows a new rule", bold=True))
        say(f"   reference = first {settings.drift.reference_size} rows, windows of "
            f"{settings.drift.window_size}; an ALERT fires when {settings.drift.alert_k} of "
            f"the last {settings.drift.alert_m} windows drifted and stays open (alert ongoing) "
            "until they no longer do")
        decision = asyncio.run(_stream_and_follow(stack["KAFKA__BROKER"],
                                                  env["KAFKA__TOPICS__PREFIX"], model, items,
                                                  rate, Narrator(say), settings.drift))
        if decision is None:
            raise click.ClickException(f"no promotion decision; see the logs in {workdir}")

        registry = ModelRegistry(stack["MLFLOW__TRACKING_URI"])
        champion = registry.alias(registered, "champion")
        previous = registry.alias(registered, "previous_champion")
        say(click.style("5. aliases in MLflow", bold=True))
        say(f"  champion -> v{champion.version if champion else '-'}, previous_champion -> "
            f"v{previous.version if previous else '-'}")
        say(click.style(f"6. the mailbox of {recipient} (SMTP sink)", bold=True))
        deadline, mails = time.monotonic() + 30, []
        while time.monotonic() < deadline:
            mails = read_mails(mailbox, recipient)
            if any(word in m["subject"] for m in mails for word in ("promoted", "rejected")):
                break
            time.sleep(0.5)
        for mail in mails:
            say(f"  {mail['received_at'][11:19]}  {mail['subject']}")
        say(click.style(f"logs and state: {workdir}", dim=True))
    finally:
        stop_process(worker)
        stop_process(trainer)
        if not keep_stack and not was_running:
            _driftline("stack", "down", "--only", SERVICES)

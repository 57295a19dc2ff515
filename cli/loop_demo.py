"""The governed loop as a demo: drift → retrain request → training job (with progress) →
promotion decision → alias moved → e-mails received.

:func:`run_loop_demo` is the hook ``driftline demo`` calls; ``python -m cli.loop_demo`` runs it
alone against a running stack (``eval "$(driftline stack env)"`` first). It registers a
champion that learned the *original* relationship, seeds production labels that follow a
*flipped* one, starts the reference trainer and a worker, publishes fired drift events, and
prints what each agent does until the decision.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

DRIFTLINE = str(Path(sys.executable).parent / "driftline")
Say = Callable[[str], None]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    handle = log.open("ab")
    return subprocess.Popen([DRIFTLINE, *args], env=env, stdout=handle,  # noqa: S603
                            stderr=subprocess.STDOUT, start_new_session=True)


def _stop(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is not None and proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)


def _wait_for(check: Callable[[], bool], proc: subprocess.Popen[bytes], what: str, log: Path,
              timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise click.ClickException(f"{what} exited; see {log}")
        if check():
            return
        time.sleep(0.3)
    raise click.ClickException(f"{what} did not start in {timeout:.0f}s; see {log}")


def default_mailbox() -> Path:
    """The stack's SMTP sink mailbox (``DRIFTLINE_MAILBOX`` overrides, e.g. a shared stack)."""
    if os.environ.get("DRIFTLINE_MAILBOX"):
        return Path(os.environ["DRIFTLINE_MAILBOX"])
    from cli.services import MailSink, StackConfig

    return MailSink(StackConfig.load(), lambda text: None).mailbox


def _mails(mailbox: Path, recipient: str) -> list[dict[str, Any]]:
    if not mailbox.exists():
        return []
    out = []
    for line in mailbox.read_text(encoding="utf-8").splitlines():
        try:
            mail = json.loads(line)
        except ValueError:
            continue
        if recipient in mail.get("rcpt_tos", []):
            out.append(mail)
    return out


def _describe(topic: str, record: dict[str, Any]) -> str:
    if topic.endswith("retrain-requests"):
        mark = click.style(record["decision"].upper(), fg="green" if record["decision"] == "accepted"
                           else "yellow", bold=True)
        return f"  retrain request  {mark}: {record['reason']}"
    if topic.endswith("training-jobs"):
        bar = "#" * int(record["progress"] * 20)
        return (f"  training job     {record['status']:<10} [{bar:<20}] "
                f"{record['progress']:>4.0%}  {record['message'][:90]}")
    verdict = click.style(record["decision"].upper(), fg="green" if record["decision"] == "promoted"
                          else "red", bold=True)
    lines = [f"  promotion        {verdict}: v{record.get('candidate_version')} vs champion "
             f"v{record.get('champion_version')}"]
    for name, result in record["criteria"].items():
        if name in ("metrics", "holdout"):
            continue
        ok = click.style("pass", fg="green") if result.get("passed") else click.style("FAIL", fg="red")
        evidence = {k: v for k, v in result.items() if k != "passed" and not isinstance(v, dict)}
        lines.append(f"      {ok} {name:<26} {json.dumps(evidence, default=str)[:110]}")
    return "\n".join(lines)


async def _follow(broker: str, prefix: str, say: Say, timeout: float) -> dict[str, Any] | None:
    from aiokafka import AIOKafkaConsumer

    topics = [f"{prefix}{name}" for name in ("retrain-requests", "training-jobs", "promotion-events")]
    consumer = AIOKafkaConsumer(*topics, bootstrap_servers=broker.removeprefix("kafka://"),
                                auto_offset_reset="earliest", group_id=None)
    await consumer.start()
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for message in records:
                    record = json.loads(message.value)
                    say(_describe(message.topic, record))
                    if message.topic.endswith("promotion-events"):
                        return dict(record)
                    if message.topic.endswith("training-jobs") and record["status"] in (
                            "failed", "cancelled"):
                        return None
        return None
    finally:
        await consumer.stop()


def run_loop_demo(env: dict[str, str], workdir: Path, *, say: Say = click.echo,
                  mailbox: Path | None = None, timeout: float = 300.0) -> bool:
    """Run the whole loop once against the stack ``env`` points at; True if it promoted."""
    from sqlalchemy import insert

    from cli.model_cmd import bootstrap_champion, publish
    from governance.synthetic import drift_event, labelled_rows
    from integrations.registry import ModelRegistry
    from settings import Settings
    from storage.db import make_engine, upgrade
    from storage.models import LabelledPrediction

    tag = uuid.uuid4().hex[:8]
    model, recipient = f"loop-demo-{tag}", f"loop-demo-{tag}@example.test"
    env = {**env, "APP_ID": f"loop-demo-{tag}", "KAFKA__TOPICS__PREFIX": f"loop-demo-{tag}-",
           "WEB_ENABLED": "false", "STATE_DIR": str(workdir / "state"),
           "SMTP__RECIPIENTS": recipient, "TRAINER__POLL_SECONDS": "0.5",
           "TRAINER__STEP_DELAY": env.get("TRAINER__STEP_DELAY", "0.5"), "TRAINER__MIN_ROWS": "50"}
    mailbox = mailbox or default_mailbox()  # before STATE_DIR changes below
    os.environ.update(env)  # the worker and trainer get ``env``; this process reads it too
    settings = Settings()
    workdir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.database_url)

    end = datetime.now(UTC) - timedelta(minutes=1)
    say(click.style("1. a champion that learned the original relationship", bold=True))
    old = list(labelled_rows(model, 400, relation="original", seed=1, end=end - timedelta(days=30)))
    version = bootstrap_champion(settings.mlflow.tracking_uri, settings.mlflow.registered_name(model),
                                 model, [r["features"] for r in old], [r["label"] for r in old])
    say(f"  {model} v{version} registered, alias 'champion' -> {version}")
    say(click.style("2. production labels now follow a flipped relationship", bold=True))
    engine = make_engine(settings.database_url, pool_size=1)
    with engine.begin() as conn:
        conn.execute(insert(LabelledPrediction.__table__),
                     list(labelled_rows(model, 600, relation="flipped", seed=2, end=end)))
    engine.dispose()
    say("  600 labelled predictions in labelled_predictions")

    trainer = worker = None
    try:
        say(click.style("3. starting the reference trainer and a worker", bold=True))
        port = _free_port()
        env["TRAINER__URL"] = f"http://127.0.0.1:{port}"
        trainer = _start(["trainer", "--port", str(port)], env, workdir / "trainer.log")
        worker = _start(["worker", "-l", "info"], env, workdir / "worker.log")
        import httpx

        def trainer_up() -> bool:
            try:
                return httpx.get(f"{env['TRAINER__URL']}/health", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        _wait_for(trainer_up, trainer, "trainer", workdir / "trainer.log")
        _wait_for(lambda: "[^Worker]: Ready" in (workdir / "worker.log").read_text(errors="replace"),
                  worker, "worker", workdir / "worker.log")
        say(click.style("4. drift alerts fire on x1, x2 and region", bold=True))
        now = datetime.now(UTC)
        events = [drift_event(model, f, severity="high", when=now) for f in ("x1", "x2", "region")]
        topic = settings.kafka.topics.name("drift_events")
        asyncio.run(publish(settings, [(topic, model.encode(), e.dumps()) for e in events]))
        decision = asyncio.run(_follow(settings.kafka.broker, settings.kafka.topics.prefix, say,
                                       timeout))
        if decision is None:
            say(click.style("  no promotion decision; see the logs in " + str(workdir), fg="red"))
            return False
        registry = ModelRegistry(settings.mlflow.tracking_uri)
        champion = registry.alias(settings.mlflow.registered_name(model), "champion")
        previous = registry.alias(settings.mlflow.registered_name(model), "previous_champion")
        say(click.style("5. aliases", bold=True))
        say(f"  champion -> v{champion.version if champion else '-'}, previous_champion -> "
            f"v{previous.version if previous else '-'}")
        say(click.style(f"6. e-mail to {recipient}", bold=True))
        deadline = time.monotonic() + 30
        mails: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            mails = _mails(mailbox, recipient)
            if any("promoted" in m["subject"] or "rejected" in m["subject"] for m in mails):
                break
            time.sleep(0.5)
        for mail in mails:
            say(f"  {mail['received_at'][11:19]}  {mail['subject']}")
        return decision["decision"] == "promoted"
    finally:
        _stop(worker)
        _stop(trainer)


def main() -> None:
    import tempfile

    workdir = Path(tempfile.mkdtemp(prefix="driftline-loop-demo-"))
    ok = run_loop_demo(dict(os.environ), workdir)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

"""Fault scenarios on the real stack, shared by the fault suite (tests) and ``bench/faults.py``.

Each scenario starts a real ``driftline worker``, stops (or kills) one real dependency for a
while, and measures what the invariants are about: events in, window results in PostgreSQL,
dead letters, decisions, mails, and how long the system took to finish once the dependency
was back. The stack is the caller's own (``driftline stack``): services are stopped and
started with ``driftline stack down|up --only NAME``, and only for as long as the scenario
needs.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
from sqlalchemy import Engine, func, select

from cli.demo_support import free_port
from cli.traffic import TrafficSpec, feature_events
from monitors.state import ModelHead, head_key
from storage.governance import NotificationRow
from storage.models import DriftResult
from tests.integration.conftest import changelog_state, produce, read_to_end, run_cli
from tests.integration.loop_support import mails_to

FEATURES = 3  # income, age, channel (cli.traffic's default spec)
WINDOW = 1000


@dataclass
class Outcome:
    """One row of the fault table."""

    fault: str
    duration: float  # seconds the dependency was away
    events_in: int = 0
    results_stored: int = 0
    dead_letters: int = 0
    decisions: int = 0
    mails: int = 0
    recovery: float = 0.0  # seconds from the dependency's return to the last result/decision
    notes: dict[str, Any] = field(default_factory=dict)


@dataclass
class Harness:
    """What a scenario needs: an isolated app (topic prefix, app id), the stack, a worker."""

    env: dict[str, str]
    broker: str
    engine: Engine
    tmp: Path
    start_worker: Callable[..., Any]

    @property
    def unique(self) -> str:
        return self.env["APP_ID"]

    def topic(self, name: str) -> str:
        return f"{self.unique}-{name}"

    @property
    def recipient(self) -> str:
        return self.env["SMTP__RECIPIENTS"]

    def stack(self, action: str, service: str) -> float:
        """``driftline stack down|up --only service``; returns the seconds it took. Run in
        the caller's environment: the worker's has a state directory of its own, and the
        stack's records (pids, data) live under the caller's."""
        began = time.monotonic()
        run_cli(dict(os.environ), "stack", action, "--only", service, timeout=240)
        return time.monotonic() - began

    def dead_letters(self) -> list[dict[str, Any]]:
        return [orjson.loads(m.value) for m in read_to_end(self.broker, self.topic("dead-letters"))]

    def records(self, name: str) -> list[dict[str, Any]]:
        return [orjson.loads(m.value) for m in read_to_end(self.broker, self.topic(name))]


def fault_env(base: dict[str, str], unique: str, tracking_uri: str) -> dict[str, str]:
    return {**base,
            "DRIFT__REFERENCE_SIZE": str(WINDOW), "DRIFT__WINDOW_SIZE": str(WINDOW),
            "MLFLOW__TRACKING_URI": tracking_uri,
            "SMTP__RECIPIENTS": f"{unique}@example.test",
            # data drift alone asks for no retraining here: a trainer nobody started would
            # hold the training agent (rightly) and muddle what each scenario measures
            "RETRAIN__TRIGGERS": '["performance_drop"]',
            "TRAINER__URL": f"http://127.0.0.1:{free_port()}",
            "TRAINER__POLL_SECONDS": "0.5", "TRAINER__MIN_ROWS": "50",
            "PROMOTION__BOOTSTRAP_SAMPLES": "300", "PROMOTION__MIN_HOLDOUT": "30"}


def wait(what: str, check: Callable[[], Any], timeout: float, every: float = 0.5) -> Any:
    """Poll ``check`` until it returns something truthy; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(every)


def ready(port: int) -> dict[str, Any] | None:
    try:
        response = httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=2)
    except httpx.HTTPError:
        return None
    return {**response.json(), "http_status": response.status_code}


def gauge(port: int, dependency: str) -> float | None:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    needle = f'driftline_dependency_up{{dependency="{dependency}"}} '
    for line in text.splitlines():
        if line.startswith(needle):
            return float(line[len(needle):])
    return None


# -- the stream: features through the monitors into PostgreSQL ------------------------------

def traffic(models: list[str], per_model: int, shift_at: int) -> list[tuple[bytes, bytes]]:
    """Interleaved feature events of ``models``, each drifting from ``shift_at`` on."""
    streams = [[(m.encode(), orjson.dumps(e)) for e in feature_events(
        TrafficSpec(model_name=m, shift_at=shift_at, seed=i + 1), per_model)]
        for i, m in enumerate(models)]
    return [item for group in zip(*streams, strict=True) for item in group]


def window_results(engine: Engine, models: list[str]) -> int:
    """Window test results (not detector signals) stored for ``models``."""
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(DriftResult).where(
            DriftResult.model_name.in_(models), DriftResult.test.in_(("ks", "chi2")))).scalar_one())


def expected_results(per_model: int, models: int) -> int:
    return (per_model - WINDOW) // WINDOW * FEATURES * models


def counted(h: Harness, models: list[str]) -> dict[str, int]:
    """Events each model's monitor state says it counted (its head's sequence number)."""
    state = changelog_state(h.broker, h.unique)
    out = {}
    for model in models:
        raw = state.get(head_key("f", model, "1"))
        out[model] = ModelHead.decode(raw).seq if raw is not None else 0
    return out


def settle_counts(h: Harness, models: list[str], per_model: int, timeout: float = 120) -> dict:
    return wait("every event counted", lambda: (c := counted(h, models)) and all(
        v >= per_model for v in c.values()) and c, timeout, every=1.0)


def mail_audit(h: Harness) -> tuple[int, dict[str, int]]:
    """(mails received, notification-log rows by status) for this scenario's recipient."""
    with h.engine.connect() as conn:
        rows = conn.execute(select(NotificationRow.status, func.count()).where(
            NotificationRow.recipients == h.recipient).group_by(NotificationRow.status)).all()
    return len(mails_to(h.recipient)), {status: int(n) for status, n in rows}


def stream_outage(h: Harness, service: str, outage: float, *, models: int = 4,
                  per_model: int = 5000, web_port: int | None = None) -> Outcome:
    """``service`` away for ``outage`` seconds (0: restarted) in the middle of a stream."""
    names = [f"{h.unique}-m{i}" for i in range(models)]
    items = traffic(names, per_model, shift_at=per_model // 2)
    port = web_port or free_port()
    h.start_worker(WEB_ENABLED="true", WEB_PORT=str(port))
    half = len(items) // 2
    produce(h.broker, h.topic("features"), items[:half])
    if service != "kafka":  # the outage starts while results are flowing into PostgreSQL
        wait("first results stored", lambda: window_results(h.engine, names), 120)
    h.stack("down", service)
    down_at = time.monotonic()
    seen_down: dict[str, Any] = {}
    if service != "kafka":
        produce(h.broker, h.topic("features"), items[half:])
        dependency = "postgres" if service == "postgres" else service
        seen_down = wait(f"readiness naming {dependency}", lambda: (r := ready(port)) and (
            dependency in r.get("waiting_for", [])) and r, 60)
        seen_down["gauge"] = gauge(port, dependency)
    time.sleep(max(0.0, outage - (time.monotonic() - down_at)))  # the fault's own length
    h.stack("up", service)
    back_at = time.monotonic()
    duration = back_at - down_at
    if service == "kafka":
        produce(h.broker, h.topic("features"), items[half:])
    total = expected_results(per_model, models)
    wait("every window result stored", lambda: window_results(h.engine, names) >= total, 300)
    recovery = time.monotonic() - back_at
    counts = settle_counts(h, names, per_model)
    stored = window_results(h.engine, names)
    fired = {a["event_id"] for a in h.records("alerts")}
    wait("a decision about every alert", lambda: sum(mail_audit(h)[1].values()) >= len(fired),
         120)
    after = wait("readiness back to ok", lambda: (r := ready(port)) and r["http_status"] == 200 and r,
                 60)
    mails, log = mail_audit(h)
    return Outcome(f"{service} {'restarted' if service == 'kafka' else 'stopped'}", duration,
                   events_in=len(items), results_stored=stored,
                   dead_letters=len(h.dead_letters()), decisions=0, mails=mails,
                   recovery=recovery,
                   notes={"expected_results": total, "counted": counts, "down": seen_down,
                          "after": after, "notifications": log, "alerts": len(fired)})


# -- SMTP: alerts wait for the server ---------------------------------------------------------

def alert(model: str, n: int) -> bytes:
    from schemas.events import Alert

    return Alert(event_id=str(uuid.uuid4()), schema_version=1, model_name=model,
                 model_version="1", timestamp="2026-12-01T00:00:00+00:00", kind="drift_alert",
                 severity="high", subject=f"[driftline] {model} v1: drift (high) on f{n}",
                 summary="f drifted", dedup_key=f"{model}|1|data_drift:fired|f{n}").dumps()


def smtp_outage(h: Harness, outage: float = 20.0, alerts: int = 3) -> Outcome:
    model = f"{h.unique}-mail"
    port = free_port()
    h.start_worker(WEB_ENABLED="true", WEB_PORT=str(port), SMTP__ATTEMPTS="2",
                   SMTP__BACKOFF_BASE="0.2", SMTP__MAX_RETRY_SECONDS="3")
    h.stack("down", "smtp")
    down_at = time.monotonic()
    produce(h.broker, h.topic("alerts"), [(model.encode(), alert(model, i)) for i in range(alerts)])
    seen_down = wait("readiness naming smtp", lambda: (r := ready(port)) and (
        "smtp" in r.get("waiting_for", [])) and r, 60)
    time.sleep(max(0.0, outage - (time.monotonic() - down_at)))
    early = len(mails_to(h.recipient))
    h.stack("up", "smtp")
    back_at = time.monotonic()
    wait("every alert mailed", lambda: len(mails_to(h.recipient)) >= alerts, 120)
    recovery = time.monotonic() - back_at
    wait("the notification log", lambda: sum(mail_audit(h)[1].values()) >= alerts, 60)
    mails, log = mail_audit(h)
    return Outcome("smtp stopped", back_at - down_at, events_in=alerts,
                   dead_letters=len(h.dead_letters()), decisions=log.get("sent", 0),
                   mails=mails, recovery=recovery,
                   notes={"mailed_while_down": early, "notifications": log, "down": seen_down})


def labelled_history(h: Harness, model: str, relation: str, rows: int = 600) -> None:
    from tests.integration.loop_support import now, seed_labelled
    from tests.synthetic import labelled_rows

    seed_labelled(h.engine, labelled_rows(model, rows, relation=relation, seed=2,
                                          end=now() - timedelta(minutes=1)))

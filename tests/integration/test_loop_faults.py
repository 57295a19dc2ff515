"""The loop under pressure and faults: bursts, cooldown, a flaky or dead trainer, SMTP down,
and rollback — on the real services."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from storage.governance import NotificationRow, RetrainJobRow, RetrainRequestRow
from tests.integration.conftest import produce, read_to_end, run_cli
from tests.integration.loop_support import (
    TrainerProcess,
    bootstrap_versions,
    closed_port,
    now,
    records,
    seed_labelled,
    wait_for_mail,
)
from tests.synthetic import drift_event, labelled_rows

pytestmark = pytest.mark.integration


@pytest.fixture
def loop_env(base_env: dict[str, str], unique: str) -> dict[str, str]:
    import os

    return {**base_env,
            "MLFLOW__TRACKING_URI": os.environ.get("MLFLOW__TRACKING_URI", "http://127.0.0.1:15000"),
            "SMTP__RECIPIENTS": f"{unique}@example.test",
            "TRAINER__URL": f"http://127.0.0.1:{closed_port()}",
            "TRAINER__RETRIES": "2",
            "TRAINER__BACKOFF_BASE": "0.1",
            "TRAINER__POLL_SECONDS": "0.5"}


def _rows(engine, stmt, count: int, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    rows = []
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            rows = conn.execute(stmt).all()
        if len(rows) >= count:
            return rows
        time.sleep(0.5)
    return rows


def test_a_burst_makes_one_request_and_the_cooldown_suppresses_the_rest(
        unique, loop_env, worker_factory, broker, engine):
    model = f"{unique}-model"
    worker_factory(**{**loop_env, "RETRAIN__MERGE_SECONDS": "0"})
    when = now()
    burst = [drift_event(model, f"f{i % 4}", severity="high" if i % 2 else "medium", window=1,
                         when=when, seq=i) for i in range(20)]
    produce(broker, f"{unique}-drift-events", [(model.encode(), e.dumps()) for e in burst])
    first = records(broker, f"{unique}-retrain-requests", lambda r: len(r) >= 20)
    assert len(first) == 20
    accepted = [r for r in first if r["decision"] == "accepted"]
    assert len(accepted) == 1
    # the most urgent trigger (high before medium) became the request
    assert accepted[0]["severity"] == "high"
    rest = [r for r in first if r["decision"] != "accepted"]
    assert {r["decision"] for r in rest} <= {"merged", "suppressed_cooldown"}
    assert all(r["reason"] for r in rest)
    assert {r["triggers"]["trigger_event_id"] for r in first} == {e.event_id for e in burst}

    later = [drift_event(model, "f0", severity="high", window=2, when=now(), seq=100 + i)
             for i in range(5)]
    produce(broker, f"{unique}-drift-events", [(model.encode(), e.dumps()) for e in later])
    decisions = records(broker, f"{unique}-retrain-requests", lambda r: len(r) >= 25)
    second = decisions[20:]
    assert [r["decision"] for r in second] == ["suppressed_cooldown"] * 5
    assert all("cooldown" in r["reason"] and r["cooldown_until"] for r in second)

    rows = _rows(engine, select(RetrainRequestRow.decision).where(
        RetrainRequestRow.model_name == model), 25)
    assert len(rows) == 25
    assert sum(1 for r in rows if r.decision == "accepted") == 1


class _Refusing(BaseHTTPRequestHandler):
    """A training service that answers every submission 422: the request itself is wrong."""

    def do_POST(self) -> None:  # noqa: N802
        body = b'{"detail": "registered_model is not allowed here"}'
        self.send_response(422)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_a_request_the_trainer_refuses_fails_once_with_an_alert(
        unique, loop_env, worker_factory, broker, engine):
    model = f"{unique}-model"
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Refusing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        worker_factory(**{**loop_env,
                          "TRAINER__URL": f"http://127.0.0.1:{server.server_address[1]}"})
        produce(broker, f"{unique}-drift-events", [(model.encode(), drift_event(
            model, "x1", kind="performance_drop", when=now()).dumps())])
        jobs = records(broker, f"{unique}-training-jobs",
                       lambda r: any(j["status"] == "failed" for j in r))
    finally:
        server.shutdown()
    # waiting in the queue, then refused: an explicit failed job, not a retry loop
    assert [j["status"] for j in jobs] == ["waiting", "failed"], jobs
    assert "422" in jobs[-1]["message"]
    alerts = records(broker, f"{unique}-alerts",
                     lambda r: any(a["kind"] == "training_failed" for a in r))
    failed = [a for a in alerts if a["kind"] == "training_failed"]
    assert len(failed) == 1 and failed[0]["severity"] == "high"
    row = _rows(engine, select(RetrainJobRow).where(RetrainJobRow.model_name == model), 1)[0]
    assert row.status == "failed"
    mails = wait_for_mail(f"{unique}@example.test",
                          lambda m: any("training failed" in x["subject"] for x in m))
    assert f"driftline: training failed for {model}" in [m["subject"] for m in mails]


class _FlakyProxy(BaseHTTPRequestHandler):
    """Forwards to the trainer; the first two POST /jobs reach it but answer 503 (a lost
    response: the retry must not create a second job)."""

    target = ""
    failures_left = 2
    posts: list[str] = []

    def _forward(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() in (
            "content-type", "idempotency-key")}
        reply = httpx.request(method, self.target + self.path, content=body, headers=headers)
        cls = type(self)
        if method == "POST" and self.path == "/jobs":
            cls.posts.append(self.headers.get("Idempotency-Key", ""))
            if cls.failures_left > 0:
                cls.failures_left -= 1
                self.send_response(503)
                self.send_header("Retry-After", "0")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
        self.send_response(reply.status_code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply.content)))
        self.end_headers()
        self.wfile.write(reply.content)

    def do_GET(self) -> None:  # noqa: N802
        self._forward("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._forward("POST")

    def log_message(self, *args: object) -> None:
        pass


def test_a_trainer_answering_503_twice_gets_one_job_thanks_to_the_idempotency_key(
        unique, loop_env, engine, tmp_path: Path):
    from integrations.trainer import TrainerClient

    model = f"{unique}-model"
    seed_labelled(engine, labelled_rows(model, 120, relation="original", seed=3,
                                        end=now() - timedelta(minutes=1)))
    trainer = TrainerProcess({**loop_env, "TRAINER__MIN_ROWS": "20"}, tmp_path / "trainer.log")
    server = None
    try:
        trainer.wait_ready()
        handler = type("Proxy", (_FlakyProxy,), {"target": trainer.url, "failures_left": 2,
                                                 "posts": []})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}"

        async def submit() -> str:
            async with TrainerClient(url, retries=3) as client:
                job = await client.submit({"model_name": model}, idempotency_key=f"{unique}-key")
                for _ in range(120):
                    state = await client.status(job.job_id)
                    if state.status in ("succeeded", "failed", "cancelled"):
                        return state.status
                    await asyncio.sleep(0.5)
                return state.status

        assert asyncio.run(submit()) == "succeeded"
        assert handler.posts == [f"{unique}-key"] * 3
        listed = httpx.get(f"{trainer.url}/jobs", params={"model_name": model}).json()
        assert len(listed) == 1 and listed[0]["idempotency_key"] == f"{unique}-key"
    finally:
        if server is not None:
            server.shutdown()
        trainer.stop()


def test_smtp_down_holds_the_mail_and_keeps_the_rest_flowing(
        unique, loop_env, worker_factory, broker, engine):
    env = {**loop_env, "SMTP__PORT": str(closed_port()), "SMTP__ATTEMPTS": "2",
           "SMTP__BACKOFF_BASE": "0.1", "SMTP__MAX_RETRY_SECONDS": "3"}
    worker = worker_factory(**env)
    models = [f"{unique}-a", f"{unique}-b"]
    produce(broker, f"{unique}-drift-events",
            [(m.encode(), drift_event(m, "x1", when=now()).dumps()) for m in models])
    # the retrain and training agents carry on while no mail can go out
    requests = records(broker, f"{unique}-retrain-requests", lambda r: len(r) >= 2)
    assert sorted(r["model_name"] for r in requests if r["decision"] == "accepted") == models
    jobs = records(broker, f"{unique}-training-jobs", lambda r: len(r) >= 2)
    assert {j["model_name"] for j in jobs} == set(models)
    # ... and the notifier waits for the server: nothing failed, nothing dead-lettered
    deadline = time.monotonic() + 60
    while "smtp unavailable (" not in worker.output():  # a whole send failed: held, not given up
        assert time.monotonic() < deadline, worker.output()[-3000:]
        time.sleep(0.5)
    letters = read_to_end(broker, f"{unique}-dead-letters")
    assert letters == []
    with engine.connect() as conn:
        logged = conn.execute(select(NotificationRow).where(
            NotificationRow.model_name.in_(models))).all()
    assert logged == []  # no decision about the mail yet: it is still to be sent


def test_rollback_restores_the_previous_champion(unique, loop_env, broker, tmp_path: Path):
    from integrations.registry import ModelRegistry

    model = f"{unique}-model"
    bootstrap_versions(loop_env, model, tmp_path, 80)
    registry = ModelRegistry(loop_env["MLFLOW__TRACKING_URI"])
    # each bootstrap made its version champion; as a promotion would, keep 1 as the previous
    registry.client.set_registered_model_alias(model, "previous_champion", "1")
    assert registry.alias(model, "champion").version == "2"

    out = run_cli(loop_env, "model", "rollback", model)
    assert "champion 2 -> 1" in out.stdout
    assert registry.alias(model, "champion").version == "1"
    assert registry.alias(model, "previous_champion") is None
    assert registry.version(model, "2").tags["driftline.rolled_back_to"] == "1"
    status = run_cli(loop_env, "model", "status", model).stdout
    assert "champion: 1" in status
    again = run_cli(loop_env, "model", "rollback", model, check=False)
    assert again.returncode == 2 and "no 'previous_champion'" in again.stderr
    decisions = records(broker, f"{unique}-promotion-events", lambda r: len(r) >= 1)
    assert decisions[0]["decision"] == "rolled_back" and decisions[0]["candidate_version"] == "1"


def test_the_notification_log_drives_dedup_and_rate_limits(unique, engine):
    import uuid
    from datetime import timedelta

    from storage.governance_repository import notification_history, record_notification

    model, t0 = f"{unique}-model", now()
    ids = [str(uuid.uuid4()) for _ in range(3)]
    for i, alert_id in enumerate(ids[:2]):
        assert record_notification(
            engine, alert_id=alert_id, model_name=model, kind="drift_alert", dedup_key=f"k{i}",
            subject="s", status="sent", attempts=1, error=None, recipients=["a@x.test"],
            decided_at=t0 - timedelta(minutes=10 * i)) == 1
    # the same alert again is not a second row (a replay)
    assert record_notification(
        engine, alert_id=ids[0], model_name=model, kind="drift_alert", dedup_key="k0",
        subject="s", status="sent", attempts=1, error=None, recipients=[], decided_at=t0) == 0

    def history(alert_id: str, key: str, dedup_minutes: float):
        return notification_history(engine, alert_id=alert_id, model_name=model,
                                    kind="drift_alert", dedup_key=key,
                                    dedup_since=t0 - timedelta(minutes=dedup_minutes),
                                    rate_since=t0 - timedelta(hours=1))

    assert history(ids[0], "k0", 60).already == "sent"
    fresh = history(ids[2], "k1", 60)
    assert fresh.already is None and fresh.duplicate_of_recent and fresh.sent_in_last_hour == 2
    assert not history(ids[2], "k1", 5).duplicate_of_recent  # k1 was mailed 10 minutes ago
    assert not history(ids[2], "other", 60).duplicate_of_recent

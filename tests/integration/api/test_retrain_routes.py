"""Retrain decisions, manual triggers and training jobs over the API, on the real PostgreSQL and
Kafka; the manual trigger end to end through a real worker; cancel on the reference trainer."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from governance.ledger import Trigger, decision_id
from storage.governance import RetrainJobRow, RetrainRequestRow
from storage.models import DriftResult
from storage.service import AuditEntry
from tests.integration.api.conftest import drift_row
from tests.integration.conftest import produce
from tests.integration.loop_support import TrainerProcess, closed_port, records, seed_labelled
from tests.integration.loop_support import now as utcnow
from tests.synthetic import drift_event, labelled_rows

pytestmark = pytest.mark.integration


def request_row(model, when, decision="accepted", request_id=None, kind="data_drift"):
    event_id = uuid.uuid4()
    return dict(event_id=event_id, timestamp=when, model_name=model, model_version="1",
                request_id=request_id or event_id, decision=decision, reason=f"{decision}: because",
                trigger_kind=kind, severity="high", priority=13, registered_model=model,
                triggers={"event_ids": [], "features": ["x"], "kinds": [kind]}, requests_today=1,
                cooldown_until=when + timedelta(hours=6))


def job_row(model, when, status, job_id=None, **extra):
    return {**dict(request_id=uuid.uuid4(), job_id=job_id or uuid.uuid4().hex, model_name=model,
                   model_version="1", registered_model=model, status=status, progress=0.5,
                   message=status, candidate_version=None, run_id=None, metrics=None,
                   last_event_id=uuid.uuid4(), created_at=when, updated_at=when), **extra}


def audit(engine, request_id):
    with engine.connect() as conn:
        return conn.execute(select(AuditEntry).where(AuditEntry.request_id == request_id)).one()


def test_decisions_are_listed_with_reasons_filtered_and_paged(client, keys, seed, unique, now):
    accepted = request_row(unique, now - timedelta(hours=3))
    merged = request_row(unique, now - timedelta(hours=2), "merged", accepted["event_id"])
    manual = request_row(unique, now - timedelta(hours=1), "suppressed_cooldown", kind="manual")
    seed(RetrainRequestRow, [accepted, merged, manual,
                             request_row(f"{unique}-other", now - timedelta(hours=1))])

    def ids(**params):
        r = client.get("/retrain/requests", params={"model": unique, **params}, headers=keys.viewer)
        assert r.status_code == 200, r.text
        return [item["event_id"] for item in r.json()["items"]], r.json()

    listed, body = ids()
    assert listed == [str(x["event_id"]) for x in (manual, merged, accepted)]
    assert body["items"][0]["reason"] == "suppressed_cooldown: because"
    assert body["items"][0]["cooldown_until"] and body["items"][0]["triggers"]["features"] == ["x"]
    assert ids(decision="merged")[0] == [str(merged["event_id"])]
    assert ids(request_id=str(accepted["event_id"]))[0] == [str(merged["event_id"]),
                                                            str(accepted["event_id"])]
    assert ids(trigger_kind="manual")[0] == [str(manual["event_id"])]
    assert ids(start=(now - timedelta(minutes=150)).isoformat())[0] == listed[:2]
    first, page = ids(limit=2)
    second, last = ids(limit=2, cursor=page["next_cursor"])
    assert first + second == listed and last["next_cursor"] is None

    r = client.get(f"/retrain/requests/{merged['event_id']}", headers=keys.viewer)
    assert r.status_code == 200 and r.json()["request_id"] == str(accepted["event_id"])
    assert client.get(f"/retrain/requests/{uuid.uuid4()}", headers=keys.viewer).status_code == 404
    assert client.get("/retrain/requests", params={"decision": "maybe"},
                      headers=keys.viewer).status_code == 422


def test_jobs_are_listed_by_latest_update_and_found_by_job_id(client, keys, seed, unique, now):
    running = job_row(unique, now - timedelta(hours=1), "running")
    done = job_row(unique, now - timedelta(hours=2), "succeeded", candidate_version="3",
                   metrics={"train_accuracy": 0.9})
    seed(RetrainJobRow, [running, done, job_row(f"{unique}-other", now, "failed")])

    r = client.get("/retrain/jobs", params={"model": unique}, headers=keys.viewer)
    assert r.status_code == 200, r.text
    assert [j["job_id"] for j in r.json()["items"]] == [running["job_id"], done["job_id"]]
    r = client.get("/retrain/jobs", params={"model": unique, "status": "succeeded"},
                   headers=keys.viewer)
    assert [(j["candidate_version"], j["metrics"]) for j in r.json()["items"]] == [
        ("3", {"train_accuracy": 0.9})]
    page = client.get("/retrain/jobs", params={"model": unique, "limit": 1}, headers=keys.viewer).json()
    rest = client.get("/retrain/jobs", params={"model": unique, "cursor": page["next_cursor"]},
                      headers=keys.viewer).json()
    assert [j["job_id"] for j in page["items"] + rest["items"]] == [running["job_id"], done["job_id"]]

    r = client.get(f"/retrain/jobs/{done['job_id']}", headers=keys.viewer)
    assert r.status_code == 200 and r.json()["status"] == "succeeded"
    assert r.json()["request_id"] == str(done["request_id"])
    assert client.get("/retrain/jobs/no-such-job", headers=keys.viewer).status_code == 404
    assert client.get("/retrain/jobs", params={"status": "done"}, headers=keys.viewer).status_code == 422


def test_a_manual_trigger_is_queued_on_kafka_by_an_operator_and_audited(
        make_client, keys, seed, engine, broker, unique, now):
    client = make_client()
    model = f"{unique}-m"
    seed(DriftResult, [drift_row(model, now - timedelta(hours=1), model_version="6"),
                       drift_row(model, now, model_version="7")])
    body = {"model_name": model, "reason": "labels of the new season"}
    assert client.post("/retrain/requests", json=body).status_code == 401
    r = client.post("/retrain/requests", json=body,
                    headers={**keys.viewer, "X-Request-ID": f"{unique}-viewer"})
    assert r.status_code == 403 and "operator" in r.json()["detail"]
    for bad in ({**body, "priority": 99}, {**body, "model_name": "has space"}, {"reason": "x"}):
        assert client.post("/retrain/requests", json=bad, headers=keys.operator).status_code == 422

    r = client.post("/retrain/requests", json=body,
                    headers={**keys.operator, "X-Request-ID": f"{unique}-trigger"})
    assert r.status_code == 202, r.text
    out = r.json()
    # the version serving now, as the latest drift result says
    assert (out["model_version"], out["requested_by"], out["status"]) == (
        "7", keys.names["operator"], "queued")
    expected = decision_id(unique, Trigger(out["trigger_id"], model, "7", "manual", "", "none", now))
    assert out["decision_id"] == expected
    assert r.headers["location"] == f"/retrain/requests/{expected}"

    queued = records(broker, f"{unique}-retrain-triggers", lambda m: len(m) >= 1, timeout=30)
    assert len(queued) == 1
    assert {k: queued[0][k] for k in ("event_id", "model_name", "model_version", "kind",
                                      "requested_by", "reason")} == {
        "event_id": out["trigger_id"], "model_name": model, "model_version": "7",
        "kind": "manual", "requested_by": keys.names["operator"],
        "reason": "labels of the new season"}

    row = audit(engine, f"{unique}-trigger")
    assert (row.actor, row.role, row.status_code, row.action) == (
        keys.names["operator"], "operator", 202, "POST /retrain/requests")
    assert row.details == {"model": model, "trigger_id": out["trigger_id"],
                           "decision_id": expected, "requested_by": keys.names["operator"]}
    assert audit(engine, f"{unique}-viewer").outcome == "denied"


def test_a_manual_trigger_carries_the_request_trace_to_kafka(
        make_client, keys, seed, broker, unique, now):
    """The operator's request continues the caller's trace; the trigger on Kafka carries the
    request's span, so the worker's retrain agent (a consumer) goes on with the same trace."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from observability import tracing
    from settings import TracingSettings
    from tests.integration.conftest import consume

    client = make_client()
    model = f"{unique}-traced"
    seed(DriftResult, [drift_row(model, now, model_version="2")])
    exporter = InMemorySpanExporter()
    tracing.configure(TracingSettings(enabled=True), component="api-test", exporter=exporter)
    try:
        r = client.post("/retrain/requests", json={"model_name": model, "reason": "traced"},
                        headers={**keys.operator, "traceparent":
                                 "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"})
    finally:
        tracing.shutdown()
    assert r.status_code == 202, r.text
    (server,) = [s for s in exporter.get_finished_spans() if s.kind is trace.SpanKind.SERVER]
    assert server.name == "POST /retrain/requests"
    assert server.context.trace_id == 0x4BF92F3577B34DA6A3CE929D0E0E4736
    assert server.attributes["http.response.status_code"] == 202

    (message,) = consume(broker, f"{unique}-retrain-triggers", lambda m: len(m) >= 1, timeout=30)
    carried = trace.get_current_span(tracing.extract(message.headers)).get_span_context()
    assert (carried.trace_id, carried.span_id) == (server.context.trace_id, server.context.span_id)


def test_kafka_down_is_503_and_nothing_internal(make_client, keys, unique):
    client = make_client(kafka={"broker": f"kafka://127.0.0.1:{closed_port()}"},
                         api={"publish_timeout_seconds": 3})
    r = client.post("/retrain/requests", json={"model_name": f"{unique}-m", "model_version": "1"},
                    headers=keys.operator)
    assert r.status_code == 503, r.text
    assert r.json()["detail"].startswith("the trigger was not queued")
    assert "127.0.0.1" not in r.text and "Traceback" not in r.text


def _decision(client, headers, decision: str, timeout: float = 90.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = client.get(f"/retrain/requests/{decision}", headers=headers)
        if r.status_code == 200:
            return r.json()
        assert r.status_code == 404, r.text
        time.sleep(0.5)
    raise AssertionError(f"decision {decision} not made in {timeout}s")


def test_the_worker_decides_manual_triggers_in_the_ledger_of_drift_triggers(
        make_client, keys, worker_factory, base_env, broker, unique, now):
    """Drift accepted for one model, then a manual trigger in its cooldown: suppressed, with
    the reason; a manual trigger for a quiet model: accepted."""
    drifted, quiet = f"{unique}-drifted", f"{unique}-quiet"
    worker_factory(**{**base_env, "RETRAIN__MERGE_SECONDS": "0", "RETRAIN__COOLDOWN_HOURS": "6",
                      "TRAINER__URL": f"http://127.0.0.1:{closed_port()}", "TRAINER__RETRIES": "0",
                      "SMTP__RECIPIENTS": f"{unique}@example.test"})
    client = make_client()
    produce(broker, f"{unique}-drift-events",
            [(drifted.encode(), drift_event(drifted, "x1", kind="performance_drop", when=now).dumps())])
    deadline = time.monotonic() + 90
    accepted: list[dict] = []
    while not accepted and time.monotonic() < deadline:
        accepted = client.get("/retrain/requests", params={"model": drifted, "decision": "accepted"},
                              headers=keys.viewer).json()["items"]
        time.sleep(0.5)
    assert len(accepted) == 1 and accepted[0]["trigger_kind"] == "performance_drop"

    suppressed = client.post("/retrain/requests", json={"model_name": drifted, "reason": "again"},
                             headers=keys.operator).json()
    fresh = client.post("/retrain/requests", json={"model_name": quiet, "model_version": "2"},
                        headers=keys.operator).json()
    decided = _decision(client, keys.viewer, suppressed["decision_id"])
    assert (decided["decision"], decided["trigger_kind"]) == ("suppressed_cooldown", "manual")
    assert decided["reason"].startswith(f"cooldown: last request {accepted[0]['request_id']} "
                                        f"accepted at ")
    assert decided["cooldown_until"] == accepted[0]["cooldown_until"]
    assert decided["triggers"]["requested_by"] == [keys.names["operator"]]
    assert decided["triggers"]["trigger_event_id"] == suppressed["trigger_id"]

    decided = _decision(client, keys.viewer, fresh["decision_id"])
    assert (decided["decision"], decided["model_version"], decided["priority"]) == ("accepted", "2", 40)
    assert decided["reason"] == (f"manual retrain requested by {keys.names['operator']}; "
                                 "request 1 of 3 today")
    assert decided["request_id"] == fresh["decision_id"]


@pytest.fixture
def slow_trainer(base_env, engine, unique, tmp_path: Path):
    """The reference trainer, pausing 1.5 s between steps, with rows enough to get past the
    first step (so a cancel lands while the job runs)."""
    model = f"{unique}-m"
    seed_labelled(engine, labelled_rows(model, 60, relation="original", seed=5,
                                        end=utcnow() - timedelta(minutes=1)))
    trainer = TrainerProcess({**base_env, "TRAINER__STEP_DELAY": "1.5", "TRAINER__MIN_ROWS": "20"},
                             tmp_path / "trainer.log")
    try:
        trainer.wait_ready()
        yield trainer
    finally:
        trainer.stop()


def _submit(trainer: TrainerProcess, model: str) -> str:
    from integrations.trainer import TrainerClient

    async def go() -> str:
        async with TrainerClient(trainer.url, retries=0) as client:
            return (await client.submit({"model_name": model}, idempotency_key=uuid.uuid4().hex)).job_id

    return asyncio.run(go())


def test_cancel_stops_the_job_on_the_trainer_and_records_it(
        make_client, keys, slow_trainer, seed, engine, broker, unique, now):
    model = f"{unique}-m"
    job_id = _submit(slow_trainer, model)
    row = job_row(model, now, "running", job_id=job_id)
    seed(RetrainJobRow, [row])
    client = make_client(trainer={"url": slow_trainer.url})

    path = f"/retrain/jobs/{job_id}/cancel"
    assert client.post(path).status_code == 401
    assert client.post(path, headers=keys.viewer).status_code == 403
    assert client.post("/retrain/jobs/no-such-job/cancel", headers=keys.operator).status_code == 404
    r = client.post(path, json={"reason": "wrong window"},
                    headers={**keys.operator, "X-Request-ID": f"{unique}-cancel"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "cancelled"
    assert r.json()["message"] == f"cancelled by {keys.names['operator']} through the API: wrong window"
    assert httpx.get(f"{slow_trainer.url}/jobs/{job_id}").json()["status"] == "cancelled"
    published = records(broker, f"{unique}-training-jobs", lambda m: len(m) >= 1, timeout=30)
    assert [(j["request_id"], j["job_id"], j["status"]) for j in published] == [
        (str(row["request_id"]), job_id, "cancelled")]
    assert client.get(f"/retrain/jobs/{job_id}", headers=keys.viewer).json()["status"] == "cancelled"

    again = client.post(path, headers={**keys.operator, "X-Request-ID": f"{unique}-again"})
    assert again.status_code == 409 and "already cancelled" in again.json()["detail"]
    entry = audit(engine, f"{unique}-cancel")
    assert (entry.actor, entry.status_code, entry.action) == (
        keys.names["operator"], 200, "POST /retrain/jobs/{job_id}/cancel")
    assert entry.details == {"job_id": job_id, "request_id": str(row["request_id"]), "model": model}
    assert audit(engine, f"{unique}-again").status_code == 409


def test_cancel_with_the_trainer_down_is_503(make_client, keys, seed, unique, now):
    row = job_row(f"{unique}-m", now, "running")
    seed(RetrainJobRow, [row])
    client = make_client(trainer={"url": f"http://127.0.0.1:{closed_port()}", "backoff_base": 0.05})
    r = client.post(f"/retrain/jobs/{row['job_id']}/cancel", headers=keys.operator)
    assert r.status_code == 503 and r.json()["detail"] == "the training service is unavailable"
    r = client.get(f"/retrain/jobs/{row['job_id']}", headers=keys.viewer)
    assert r.json()["status"] == "running"  # nothing recorded that did not happen

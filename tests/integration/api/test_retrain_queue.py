"""GET /retrain/queue: accepted requests waiting for the trainer, in the order the training
agent serves them — on PostgreSQL and on the SQLite default alike."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from governance.messages import job_event
from schemas.governance import RetrainRequest
from storage.governance_repository import save_retrain_requests, save_training_jobs

pytestmark = pytest.mark.integration
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def accepted(model: str, kind: str, severity: str, priority: int, minute: int) -> RetrainRequest:
    rid = str(uuid.uuid4())
    return RetrainRequest(
        event_id=rid, schema_version=1, model_name=model, model_version="1",
        timestamp=(T0 + timedelta(minutes=minute)).isoformat(), request_id=rid,
        decision="accepted", reason="r", trigger_kind=kind, severity=severity,
        priority=priority, registered_model=model, triggers={}, requests_today=1,
        cooldown_until=None)


def state(request: RetrainRequest, status: str, minute: int) -> object:
    return job_event(request=request, job_id="" if status == "waiting" else "j", status=status,
                     progress=0.0, message=status, now=T0 + timedelta(minutes=minute))


@pytest.fixture(params=["postgresql", "sqlite"])
def queue_client(request, database_url: str, broker: str, tmp_path, unique: str):
    from api.main import create_app
    from settings import Settings
    from storage.db import make_engine, upgrade
    from storage.keys import create_key

    url = database_url if request.param == "postgresql" else f"sqlite:///{tmp_path / 'q.db'}"
    upgrade(url)
    engine = make_engine(url)
    _, token = create_key(engine, f"{unique}-viewer", "viewer")
    settings = Settings(database={"url": url},
                        kafka={"broker": broker, "topics": {"prefix": f"{unique}-"}},
                        retrain={"max_concurrent_jobs": 3})
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client, engine, {"X-API-Key": token}
    engine.dispose()


def test_the_queue_lists_waiting_requests_in_serving_order(queue_client, unique):
    client, engine, viewer = queue_client
    a, b = f"{unique}-a", f"{unique}-b"
    data = accepted(a, "data_drift", "high", 13, 0)
    perf_new = accepted(b, "performance_drop", "medium", 32, 5)
    perf_old = accepted(a, "performance_drop", "medium", 32, 1)
    running = accepted(b, "model_drift", "high", 23, 2)
    save_retrain_requests(engine, [data, perf_new, perf_old, running])
    save_training_jobs(engine, [state(r, "waiting", 0) for r in (data, perf_new, perf_old,
                                                                  running)])
    save_training_jobs(engine, [state(running, "submitted", 3)])  # left the queue

    body = client.get("/retrain/queue", headers=viewer).json()
    mine = [i for i in body["items"] if i["model_name"] in (a, b)]
    assert [i["request_id"] for i in mine] == [perf_old.request_id, perf_new.request_id,
                                               data.request_id]
    assert [i["position"] for i in mine] == sorted(i["position"] for i in mine)
    assert mine[0]["trigger_kind"] == "performance_drop" and mine[0]["priority"] == 32
    assert body["max_concurrent_jobs"] == 3
    only_a = client.get("/retrain/queue", params={"model": a}, headers=viewer).json()["items"]
    assert [i["request_id"] for i in only_a] == [perf_old.request_id, data.request_id]
    assert [i["position"] for i in only_a] == [1, 2]
    assert client.get("/retrain/queue").status_code == 401
    assert client.get("/retrain/queue", params={"model": "bad name!"},
                      headers=viewer).status_code == 422

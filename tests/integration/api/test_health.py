"""Liveness and readiness against the real services, and readiness naming what failed."""

from __future__ import annotations

import os

import pytest
from fastapi.testclient import TestClient

pytestmark = pytest.mark.integration


def test_live_and_ready_when_everything_answers(client, make_settings):
    if not os.environ.get("MLFLOW__TRACKING_URI"):
        pytest.fail("MLFLOW__TRACKING_URI is not set: run `eval \"$(driftline stack env)\"`")
    assert client.get("/health/live").json() == {"status": "ok"}
    r = client.get("/health/ready")
    body = r.json()
    assert set(body["checks"]) == {"kafka", "database", "mlflow", "trainer", "smtp"}
    # the stack runs no training service: that degrades the API, it does not stop it
    assert r.status_code == 200 and body["status"] == "degraded", body
    assert {n for n, c in body["checks"].items() if c["critical"]} == {"kafka", "database", "mlflow"}
    assert all(body["checks"][n]["ok"] for n in ("kafka", "database", "mlflow", "smtp")), body
    assert not body["checks"]["trainer"]["ok"]
    # anonymous callers learn what failed, not why: no hosts, ports or messages
    assert all("detail" not in c for c in body["checks"].values())


def test_ready_says_which_dependency_failed_and_why_only_to_an_admin(make_settings, keys):
    from api.main import create_app

    settings = make_settings(health_timeout_seconds=2.0)
    settings.kafka.broker = "kafka://127.0.0.1:9"
    settings.mlflow.tracking_uri = "http://driftline:s3cret-pass@127.0.0.1:9"
    settings.smtp.port = 9
    with TestClient(create_app(settings)) as client:
        anonymous = client.get("/health/ready")
        viewer = client.get("/health/ready", headers=keys.viewer)
        admin = client.get("/health/ready", headers=keys.admin)
    for r in (anonymous, viewer, admin):
        assert r.status_code == 503
        body = r.json()
        assert body["status"] == "unavailable"
        assert not body["checks"]["kafka"]["ok"] and not body["checks"]["mlflow"]["ok"]
        assert not body["checks"]["smtp"]["ok"] and body["checks"]["database"]["ok"]
        assert "s3cret" not in r.text and "driftline:" not in r.text
    assert "127.0.0.1" not in anonymous.text and "127.0.0.1" not in viewer.text
    checks = admin.json()["checks"]
    assert checks["kafka"]["detail"] and checks["mlflow"]["detail"] and checks["smtp"]["detail"]


def test_a_failing_trainer_or_smtp_only_degrades(make_settings):
    from api.main import create_app

    settings = make_settings(health_timeout_seconds=2.0)
    settings.smtp.port = 9
    with TestClient(create_app(settings)) as client:
        r = client.get("/health/ready")
    assert r.status_code == 200 and r.json()["status"] == "degraded", r.text
    assert not r.json()["checks"]["smtp"]["ok"] and not r.json()["checks"]["smtp"]["critical"]

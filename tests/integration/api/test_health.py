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
    assert set(body["checks"]) == {"kafka", "postgresql", "mlflow"}
    assert r.status_code == 200 and body["status"] == "ok", body
    assert "broker" in body["checks"]["kafka"]["detail"]


def test_ready_says_which_dependency_failed(make_settings):
    from api.main import create_app

    settings = make_settings(health_timeout_seconds=2.0)
    settings.kafka.broker = "kafka://127.0.0.1:9"
    settings.mlflow.tracking_uri = "http://127.0.0.1:9"
    with TestClient(create_app(settings)) as client:
        r = client.get("/health/ready")
    assert r.status_code == 503
    body = r.json()
    assert body["status"] == "unavailable"
    assert not body["checks"]["kafka"]["ok"] and body["checks"]["kafka"]["detail"]
    assert not body["checks"]["mlflow"]["ok"] and body["checks"]["mlflow"]["detail"]
    assert body["checks"]["postgresql"]["ok"]

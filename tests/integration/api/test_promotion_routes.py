"""Promotion history, and an admin's manual promote and rollback on the real MLflow server."""

from __future__ import annotations

import os
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from storage.governance import PromotionDecisionRow
from storage.service import AuditEntry
from tests.integration.loop_support import closed_port, records

pytestmark = pytest.mark.integration


def decision_row(model, when, decision, criteria, **extra):
    return {**dict(event_id=uuid.uuid4(), timestamp=when, model_name=model, model_version="1",
                   registered_model=model, decision=decision, reason=f"{decision}: because",
                   criteria=criteria, candidate_version="2", champion_version="1",
                   request_id=uuid.uuid4(), job_id="j"), **extra}


def test_promotion_history_carries_each_criterion_and_who_decided(client, keys, seed, unique, now):
    rejected = decision_row(unique, now - timedelta(hours=2), "rejected", {
        "improvement": {"passed": True, "value": 0.04},
        "significance": {"passed": False, "p_value": 0.2, "test": "mcnemar_exact"},
        "metrics": {"passed": True, "champion_accuracy": 0.8}})
    rolled = decision_row(unique, now - timedelta(hours=1), "rolled_back",
                          {"manual": {"passed": True, "by": "ops-admin", "via": "API"}},
                          request_id=None, job_id=None)
    seed(PromotionDecisionRow, [rejected, rolled, decision_row(f"{unique}-other", now, "promoted", {})])

    r = client.get("/promotions", params={"model": unique}, headers=keys.viewer)
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert [i["decision"] for i in items] == ["rolled_back", "rejected"]
    assert items[0]["actor"] == "ops-admin" and items[1]["actor"] is None
    assert items[1]["passed"] == {"improvement": True, "significance": False, "metrics": True}
    assert items[1]["criteria"]["significance"] == {"passed": False, "p_value": 0.2,
                                                    "test": "mcnemar_exact"}
    assert items[1]["reason"] == "rejected: because"
    r = client.get("/promotions", params={"model": unique, "decision": "rejected"}, headers=keys.viewer)
    assert [i["event_id"] for i in r.json()["items"]] == [str(rejected["event_id"])]
    page = client.get("/promotions", params={"model": unique, "limit": 1}, headers=keys.viewer).json()
    rest = client.get("/promotions", params={"model": unique, "cursor": page["next_cursor"]},
                      headers=keys.viewer).json()
    assert [i["decision"] for i in page["items"] + rest["items"]] == ["rolled_back", "rejected"]
    assert client.get("/promotions", params={"decision": "won"}, headers=keys.viewer).status_code == 422


@pytest.fixture
def registered(unique):
    """A registered model with three versions (no artifacts: aliases and tags are all the
    manual decisions touch)."""
    from mlflow import MlflowClient

    uri = os.environ.get("MLFLOW__TRACKING_URI", "http://127.0.0.1:15000")
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    name = f"{unique}-model"
    client.create_registered_model(name)
    run = client.create_run("0", run_name=f"{unique}-api-test")
    client.set_terminated(run.info.run_id)
    for _ in range(3):
        client.create_model_version(name, source=f"{run.info.artifact_uri}/model",
                                    run_id=run.info.run_id)
    return name, client


def champion(client, name):
    from mlflow.exceptions import MlflowException

    found = {}
    for alias in ("champion", "previous_champion"):
        try:
            found[alias] = client.get_model_version_by_alias(name, alias).version
        except MlflowException:
            found[alias] = None
    return found["champion"], found["previous_champion"]


def test_manual_promote_and_rollback_move_the_aliases_and_record_the_actor(
        make_client, keys, registered, engine, broker, unique):
    name, mlflow = registered
    client = make_client()
    admin = keys.names["admin"]

    def call(action, rid, body=None, headers=keys.admin, model=name):
        return client.post(f"/promotions/{model}/{action}", json=body,
                           headers={**headers, "X-Request-ID": f"{unique}-{rid}"})

    assert client.post(f"/promotions/{name}/promote", json={"version": "1"}).status_code == 401
    assert call("promote", "operator", {"version": "1"}, keys.operator).status_code == 403
    assert call("rollback", "viewer", None, keys.viewer).status_code == 403
    assert call("rollback", "nothing-yet").status_code == 409

    first = call("promote", "p1", {"version": "1", "reason": "first one"})
    assert first.status_code == 200, first.text
    assert (first.json()["decision"], first.json()["candidate_version"],
            first.json()["champion_version"], first.json()["actor"], first.json()["announced"]) == (
        "promoted", "1", None, admin, True)
    second = call("promote", "p2", {"version": "2", "reason": "better on the new season"})
    assert second.status_code == 200, second.text
    assert (second.json()["candidate_version"], second.json()["champion_version"]) == ("2", "1")
    assert "better on the new season" in second.json()["reason"]
    assert champion(mlflow, name) == ("2", "1")
    tags = mlflow.get_model_version(name, "2").tags
    assert tags["driftline.promoted_by"] == admin
    assert tags["driftline.promotion_event_id"] == second.json()["event_id"]

    again = call("promote", "p2-again", {"version": "2"})
    assert again.status_code == 409 and "already is the champion" in again.json()["detail"]
    assert call("promote", "p9", {"version": "9"}).status_code == 404
    assert call("promote", "nomodel", {"version": "1"}, model=f"{unique}-none").status_code == 404
    assert call("promote", "badversion", {"version": "two"}).status_code == 422

    back = call("rollback", "rb", {"reason": "alerts after the switch"})
    assert back.status_code == 200, back.text
    assert (back.json()["decision"], back.json()["candidate_version"],
            back.json()["champion_version"], back.json()["actor"]) == ("rolled_back", "1", "2", admin)
    assert back.json()["criteria"] == {"manual": {"passed": True, "by": admin, "via": "API"}}
    assert champion(mlflow, name) == ("1", None)
    assert mlflow.get_model_version(name, "2").tags["driftline.rolled_back_to"] == "1"
    nothing = call("rollback", "rb-again")
    assert nothing.status_code == 409 and "previous_champion" in nothing.json()["detail"]
    assert call("rollback", "rb-none", model=f"{unique}-none").status_code == 404

    # stored (the history reads it at once) and announced on promotion-events, mailed via alerts
    history = client.get("/promotions", params={"model": name}, headers=keys.viewer).json()["items"]
    assert [(i["decision"], i["candidate_version"], i["actor"]) for i in history] == [
        ("rolled_back", "1", admin), ("promoted", "2", admin), ("promoted", "1", admin)]
    published = records(broker, f"{unique}-promotion-events", lambda m: len(m) >= 3, timeout=30)
    assert [p["event_id"] for p in published] == [i["event_id"] for i in reversed(history)]
    alerts = records(broker, f"{unique}-alerts", lambda m: len(m) >= 3, timeout=30)
    assert {a["kind"] for a in alerts} == {"promotion_decision"}

    with engine.connect() as conn:
        rows = {r.request_id: r for r in conn.execute(select(AuditEntry).where(
            AuditEntry.request_id.like(f"{unique}-%")))}
    expected = {"operator": 403, "viewer": 403, "nothing-yet": 409, "p1": 200, "p2": 200,
                "p2-again": 409, "p9": 404, "nomodel": 404, "badversion": 422, "rb": 200,
                "rb-again": 409, "rb-none": 404}
    assert {rid.removeprefix(f"{unique}-"): r.status_code for rid, r in rows.items()} == expected
    assert rows[f"{unique}-p2"].actor == admin
    assert rows[f"{unique}-p2"].details["decision_id"] == second.json()["event_id"]
    assert rows[f"{unique}-rb"].action == "POST /promotions/{model}/rollback"


def test_mlflow_down_is_503_without_internals(make_client, keys, unique):
    client = make_client(mlflow={"tracking_uri": f"http://127.0.0.1:{closed_port()}"})
    for action, body in (("promote", {"version": "1"}), ("rollback", None)):
        r = client.post(f"/promotions/{unique}-model/{action}", json=body, headers=keys.admin)
        assert r.status_code == 503, r.text
        assert r.json()["detail"] == "the model registry (MLflow) is unavailable"
        assert "127.0.0.1" not in r.text and "Traceback" not in r.text

"""The governed loop end to end: drift → retrain request → training job → promotion → e-mail,
on the real Kafka, PostgreSQL, MLflow server, SMTP sink and the reference trainer."""

from __future__ import annotations

import csv
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from governance.synthetic import drift_event, labelled_rows
from storage.governance import PromotionDecisionRow, RetrainJobRow, RetrainRequestRow
from tests.integration.conftest import produce, run_cli
from tests.integration.loop_support import (
    TrainerProcess,
    now,
    records,
    seed_labelled,
    wait_for_mail,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def tracking_uri() -> str:
    import os

    uri = os.environ.get("MLFLOW__TRACKING_URI")
    if not uri:
        pytest.fail("MLFLOW__TRACKING_URI is not set (driftline stack env)", pytrace=False)
    return uri


@pytest.fixture
def loop_env(base_env: dict[str, str], tracking_uri: str, unique: str) -> dict[str, str]:
    return {**base_env,
            "MLFLOW__TRACKING_URI": tracking_uri,
            "SMTP__RECIPIENTS": f"{unique}@example.test",
            "SMTP__SENDER": "driftline-tests@example.test",
            "TRAINER__POLL_SECONDS": "0.5",
            "TRAINER__MIN_ROWS": "50",
            "PROMOTION__BOOTSTRAP_SAMPLES": "300",
            "PROMOTION__MIN_HOLDOUT": "30"}


@pytest.fixture
def trainer(loop_env: dict[str, str], tmp_path: Path):
    process = TrainerProcess(loop_env, tmp_path / "trainer.log")
    try:
        process.wait_ready()
        yield process
    finally:
        process.stop()


def _write_csv(path: Path, rows: list[dict]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=["x1", "x2", "region", "label"])
        writer.writeheader()
        for row in rows:
            writer.writerow({**row["features"], "label": row["label"]})


def _wait_rows(engine, stmt, count: int, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    rows = []
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            rows = conn.execute(stmt).all()
        if len(rows) >= count:
            return rows
        time.sleep(0.5)
    return rows


def _run_loop(relation: str, *, unique, loop_env, trainer, worker_factory, broker, engine,
              tmp_path, tracking_uri):
    from integrations.registry import ModelRegistry

    model = f"{unique}-model"
    end = now() - timedelta(minutes=1)
    # the champion learned the original relationship from old data
    old = list(labelled_rows(model, 400, relation="original", seed=1, end=end - timedelta(days=30)))
    _write_csv(tmp_path / "old.csv", old)
    out = run_cli(loop_env, "model", "bootstrap", model, "--from", str(tmp_path / "old.csv"))
    assert "alias 'champion' -> 1" in out.stdout
    # production now follows ``relation``
    seed_labelled(engine, labelled_rows(model, 600, relation=relation, seed=2, end=end))

    worker_factory(**{**loop_env, "TRAINER__URL": trainer.url})
    when = now()
    produce(broker, f"{unique}-drift-events", [
        (model.encode(), drift_event(model, feature, severity="high", when=when).dumps())
        for feature in ("x1", "x2", "region")])

    requests = records(broker, f"{unique}-retrain-requests", lambda r: len(r) >= 3)
    assert len(requests) == 3
    accepted = [r for r in requests if r["decision"] == "accepted"]
    assert len(accepted) == 1, requests
    assert {r["decision"] for r in requests} == {"accepted", "merged"}
    request_id = accepted[0]["request_id"]
    assert all(r["request_id"] == request_id for r in requests)

    jobs = records(broker, f"{unique}-training-jobs",
                   lambda r: any(j["status"] in ("succeeded", "failed") for j in r), timeout=180)
    statuses = [j["status"] for j in jobs]
    assert statuses[0] == "submitted" and statuses[-1] == "succeeded", jobs
    assert len({j["job_id"] for j in jobs}) == 1
    progress = [j["progress"] for j in jobs]
    assert progress == sorted(progress) and progress[-1] == 1.0
    candidate = jobs[-1]["candidate_version"]
    assert candidate == "2"

    decisions = records(broker, f"{unique}-promotion-events", lambda r: len(r) >= 1, timeout=180)
    assert len(decisions) == 1
    decision = decisions[0]
    assert decision["candidate_version"] == "2" and decision["champion_version"] == "1"
    for criterion in ("improvement", "significance", "training_data_drift",
                      "confidence_stability", "no_significant_regression", "holdout_size"):
        assert "passed" in decision["criteria"][criterion], criterion
    assert decision["criteria"]["significance"]["test"] == "mcnemar_exact"

    registry = ModelRegistry(tracking_uri)
    stored = _wait_rows(engine, select(PromotionDecisionRow).where(
        PromotionDecisionRow.registered_model == model), 1)
    assert [row.decision for row in stored] == [decision["decision"]]
    job_rows = _wait_rows(engine, select(RetrainJobRow).where(RetrainJobRow.model_name == model), 1)
    assert job_rows[0].status == "succeeded" and job_rows[0].candidate_version == "2"
    request_rows = _wait_rows(engine, select(RetrainRequestRow).where(
        RetrainRequestRow.model_name == model), 3)
    assert sorted(row.decision for row in request_rows) == ["accepted", "merged", "merged"]
    return model, decision, registry


def test_loop_promotes_a_better_candidate_and_rollback_restores(
        unique, loop_env, trainer, worker_factory, broker, engine, tmp_path, tracking_uri):
    model, decision, registry = _run_loop(
        "flipped", unique=unique, loop_env=loop_env, trainer=trainer,
        worker_factory=worker_factory, broker=broker, engine=engine, tmp_path=tmp_path,
        tracking_uri=tracking_uri)
    assert decision["decision"] == "promoted", decision["reason"]
    criteria = decision["criteria"]
    assert criteria["improvement"]["delta"] > 0.5
    assert criteria["significance"]["p_value"] < 0.05
    assert registry.alias(model, "champion").version == "2"
    assert registry.alias(model, "previous_champion").version == "1"
    tags = registry.version(model, "2").tags
    assert tags["driftline.decision"] == "promoted" and "significance" in tags["driftline.evidence"]

    mails = wait_for_mail(f"{unique}@example.test", lambda m: any(
        "promoted" in x["subject"] for x in m) and any("retrain accepted" in x["subject"] for x in m))
    subjects = [m["subject"] for m in mails]
    assert f"driftline: retrain accepted for {model}" in subjects
    assert f"driftline: {model} v2 promoted" in subjects
    # the two merged decisions share the accepted request's dedup key: no extra mail
    assert not any("retrain merged" in s for s in subjects)

    out = run_cli(loop_env, "model", "rollback", model, "--reason", "test")
    assert "champion 2 -> 1" in out.stdout
    assert registry.alias(model, "champion").version == "1"
    rows = _wait_rows(engine, select(PromotionDecisionRow.decision).where(
        PromotionDecisionRow.registered_model == model), 2)
    assert sorted(row.decision for row in rows) == ["promoted", "rolled_back"]


def test_loop_keeps_the_champion_when_the_candidate_is_no_better(
        unique, loop_env, trainer, worker_factory, broker, engine, tmp_path, tracking_uri):
    model, decision, registry = _run_loop(
        "original", unique=unique, loop_env=loop_env, trainer=trainer,
        worker_factory=worker_factory, broker=broker, engine=engine, tmp_path=tmp_path,
        tracking_uri=tracking_uri)
    assert decision["decision"] == "rejected", decision
    # both models know the relationship: no significant, large-enough gain
    failed = {name for name, c in decision["criteria"].items() if not c["passed"]}
    assert failed and failed <= {"improvement", "significance"}, decision["criteria"]
    assert decision["reason"].startswith("rejected: ")
    assert registry.alias(model, "champion").version == "1"
    assert registry.alias(model, "previous_champion") is None
    assert registry.version(model, "2").tags["driftline.decision"] == "rejected"
    mails = wait_for_mail(f"{unique}@example.test",
                          lambda m: any("rejected" in x["subject"] for x in m))
    assert f"driftline: {model} v2 rejected" in [m["subject"] for m in mails]

"""The governed loop end to end: drift → retrain request → training job → promotion → e-mail,
on the real Kafka, PostgreSQL, MLflow server, SMTP sink and the reference trainer — and, for
the stream that closes the loop on its own, its model page in a real browser."""

from __future__ import annotations

import csv
import re
import time
from datetime import timedelta
from pathlib import Path

import orjson
import pytest
from sqlalchemy import select

from storage.governance import (
    NotificationRow,
    PromotionDecisionRow,
    RetrainJobRow,
    RetrainRequestRow,
)
from tests.integration.conftest import produce, read_to_end, run_cli
from tests.integration.loop_support import (
    TrainerProcess,
    now,
    records,
    seed_labelled,
    wait_for_mail,
)
from tests.synthetic import drift_event, labelled_rows

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
    # in the retrain queue first (no job yet), then one job on the training service
    assert statuses[:2] == ["waiting", "submitted"] and statuses[-1] == "succeeded", jobs
    assert len({j["job_id"] for j in jobs[1:]}) == 1 and jobs[0]["job_id"] == ""
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
    # read again now that the sinks have caught up: still one decision, still one job
    assert len(read_to_end(broker, f"{unique}-promotion-events")) == 1
    assert len({j["job_id"] for j in (orjson.loads(m.value) for m in read_to_end(
        broker, f"{unique}-training-jobs")) if j["status"] != "waiting"}) == 1
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
    # both models know the relationship: no significant, large-enough gain. The candidate
    # learned from another sample of it (and is split by ids that include the test's random
    # model name), so now and then it is measurably worse — a CI run saw its log loss 17 %
    # above the champion's (lower bound 0.0196 > margin 0.0191) — and the regression guard
    # rightly joins in; and now and then it is a little better by chance, above the margin
    # but not significantly (a CI run: improvement passed, McNemar's p above alpha). Either
    # way the gain is not shown; what must never fail here is anything else (holdout,
    # drift, ...).
    failed = {name for name, c in decision["criteria"].items() if not c["passed"]}
    assert failed & {"improvement", "significance"}, decision["criteria"]
    assert failed <= {"improvement", "significance", "no_significant_regression"}, \
        decision["criteria"]
    assert decision["reason"].startswith("rejected: ")
    assert registry.alias(model, "champion").version == "1"
    assert registry.alias(model, "previous_champion") is None
    assert registry.version(model, "2").tags["driftline.decision"] == "rejected"
    mails = wait_for_mail(f"{unique}@example.test",
                          lambda m: any("rejected" in x["subject"] for x in m))
    assert f"driftline: {model} v2 rejected" in [m["subject"] for m in mails]


def test_drifted_traffic_with_labels_closes_the_loop(
        unique, loop_env, worker_factory, broker, engine, tmp_path, tracking_uri):
    """No shortcut: features, predictions and delayed labels through the monitors; the world
    changes halfway, the monitors alert, and the loop retrains and promotes on its own."""
    import asyncio
    import random

    from cli.demo import _noisy, produce_traffic, traffic, truth
    from cli.model_cmd import bootstrap_champion
    from integrations.registry import ModelRegistry
    from storage.models import DriftResult, LabelledPrediction, PerformanceMetric

    model = f"{unique}-traffic"
    env = {**loop_env, "PERFORMANCE__WINDOW_SIZE": "500",
           "TRAINER__WINDOW_HOURS": "12", "PROMOTION__WINDOW_HOURS": "12"}
    history = [next(traffic(model, 1, 10**9, seed=s))[1]["features"] for s in range(600)]
    noise = random.Random(7)
    assert bootstrap_champion(tracking_uri, model, model, history,
                              [_noisy(truth(f, changed=False), noise) for f in history]) == "1"
    trainer = TrainerProcess(env, tmp_path / "trainer.log")
    try:
        trainer.wait_ready()
        worker_factory(**{**env, "TRAINER__URL": trainer.url})
        items = list(traffic(model, 6000, shift_at=3000))
        asyncio.run(produce_traffic(broker, f"{unique}-", model, items, rate=6000))

        decisions = records(broker, f"{unique}-promotion-events", lambda r: len(r) >= 1,
                            timeout=240)
        assert len(decisions) == 1, "no promotion decision"
        drift, requests, jobs = ([orjson.loads(m.value) for m in read_to_end(broker, f"{unique}-{t}")]
                                 for t in ("drift-events", "retrain-requests", "training-jobs"))
    finally:
        trainer.stop()

    # the monitors saw the change: inputs, the model's outputs and its accuracy
    fired = {(d["kind"], d["feature"]) for d in drift if d.get("alert") == "fired"}
    assert {("data_drift", "x1"), ("data_drift", "region")} <= fired, fired
    assert any(kind == "model_drift" for kind, _ in fired), fired
    assert any(kind == "performance_drop" for kind, _ in fired), fired
    assert not any(d["drifted"] for d in drift
                   if d["kind"] == "data_drift" and d["window_end_seq"] <= 3000), \
        "drift reported before the change"
    # many triggers, one retrain: the rest merged or suppressed, each with its reason
    accepted = [r for r in requests if r["decision"] == "accepted"]
    assert len(accepted) == 1, [(r["decision"], r["reason"]) for r in requests]
    assert len(requests) > 1
    assert all(r["reason"] for r in requests)
    assert {r["decision"] for r in requests} <= {"accepted", "merged", "suppressed_cooldown"}
    assert [j["status"] for j in jobs][-1] == "succeeded" and jobs[-1]["candidate_version"] == "2"
    assert {j["request_id"] for j in jobs} == {accepted[0]["request_id"]}

    decision = decisions[0]
    assert decision["decision"] == "promoted", decision["reason"]
    assert decision["criteria"]["significance"]["p_value"] < 0.05
    registry = ModelRegistry(tracking_uri)
    assert registry.alias(model, "champion").version == "2"
    assert registry.alias(model, "previous_champion").version == "1"

    # what the sinks kept: labelled pairs (the training data), drift history, metrics
    assert len(_wait_rows(engine, select(LabelledPrediction.event_id).where(
        LabelledPrediction.model_name == model), 6000)) == 6000
    assert _wait_rows(engine, select(DriftResult.event_id).where(DriftResult.model_name == model), 1)
    assert _wait_rows(engine, select(PerformanceMetric.event_id).where(
        PerformanceMetric.model_name == model), 1)
    alert_subject = f"[driftline] {model} v1: "
    mails = wait_for_mail(f"{unique}@example.test", lambda m: any(
        "promoted" in x["subject"] for x in m) and any(
            x["subject"].startswith(alert_subject) for x in m))
    subjects = [m["subject"] for m in mails]
    assert f"driftline: {model} v2 promoted" in subjects, subjects
    assert f"driftline: retrain accepted for {model}" in subjects, subjects
    assert any(s.startswith(alert_subject) for s in subjects), subjects
    # after all that: still exactly one decision and one accepted request
    assert len(read_to_end(broker, f"{unique}-promotion-events")) == 1
    assert sum(orjson.loads(m.value)["decision"] == "accepted"
               for m in read_to_end(broker, f"{unique}-retrain-requests")) == 1

    # what a person sees of it: the model page, in Chromium, on the worker's own history
    # (last: Playwright's sync API and asyncio.run cannot share the thread)
    _wait_rows(engine, select(DriftResult.event_id).where(DriftResult.model_name == model),
               len(drift))
    _wait_rows(engine, select(PerformanceMetric.event_id).where(
        PerformanceMetric.model_name == model, PerformanceMetric.metric == "accuracy"), 4)
    _wait_rows(engine, select(RetrainRequestRow.event_id).where(
        RetrainRequestRow.model_name == model), len(requests))
    _wait_rows(engine, select(RetrainJobRow.job_id).where(
        RetrainJobRow.model_name == model, RetrainJobRow.status == "succeeded"), 1)
    _wait_rows(engine, select(PromotionDecisionRow.event_id).where(
        PromotionDecisionRow.registered_model == model), 1)
    _wait_rows(engine, select(NotificationRow.alert_id).where(
        NotificationRow.model_name == model, NotificationRow.kind == "drift_alert"), 1)
    _the_model_page_shows_the_stream(loop_env, engine, model, tmp_path,
                                     {r["decision"] for r in requests})


#: what the heatmap shows, as the page's script reads it: the windows' titles, and each
#: feature's cells (class, mark)
_HEATMAP = """() => ({
  windows: Array.from(document.querySelectorAll('#heatmap thead th[title]'), th => th.title),
  rows: Object.fromEntries(Array.from(document.querySelectorAll('#heatmap tbody tr'), tr => [
    tr.querySelector('th').textContent,
    Array.from(tr.querySelectorAll('td'), td => [td.className, td.textContent])]))
})"""


def _the_model_page_shows_the_stream(env: dict[str, str], engine, model: str, tmp_path: Path,
                                     decisions: set[str]) -> None:
    from storage.keys import create_key
    from tests.integration.browser.support import chromium, new_page, running_api, sign_in

    _, token = create_key(engine, f"{model}-viewer", "viewer")
    with running_api(env, tmp_path / "api.log") as url, chromium() as browser:
        page, console = new_page(browser)
        sign_in(page, url, token)
        assert page.locator(f'tr[data-model="{model}"]').count() == 1
        page.goto(f"{url}/ui/models/{model}")
        heat = page.evaluate(_HEATMAP)
        starts = [int(re.search(r"events ([\d,]+)–", title).group(1).replace(",", ""))
                  for title in heat["windows"]]
        assert starts and starts == sorted(starts), heat["windows"]
        assert {"x1", "x2", "region", "confidence", "prediction"} <= set(heat["rows"])
        for feature in ("x1", "x2", "region"):
            cells = heat["rows"][feature]
            drifted = [start for start, (_, mark) in zip(starts, cells, strict=True)
                       if mark == "●"]
            assert all(start >= 3000 for start in drifted), (feature, drifted)  # after the change
            if feature != "x2":  # the inputs that shifted, coloured by severity
                assert len(drifted) >= 2, (feature, cells)
                assert all(css in ("s-low", "s-medium", "s-high")
                           for css, mark in cells if mark == "●"), cells
        accuracy = page.locator('figure[data-metric="accuracy"]')
        assert accuracy.locator("svg.chart path.line.realized").count() == 1
        assert accuracy.locator("svg.chart rect.band").count() == 1
        caption = accuracy.locator("figcaption").inner_text()
        windows, latest, reference = re.search(
            r"(\d+) realized windows.*latest ([\d.]+) · reference ([\d.]+)", caption).groups()
        assert int(windows) >= 4 and float(latest) < float(reference) - 0.2, caption
        alerts = page.locator("#alerts").inner_text()
        assert "drift alert" in alerts and "performance drop" in alerts, alerts
        requests = page.locator("#retrain").inner_text()
        assert all(decision in requests for decision in decisions), (decisions, requests)
        jobs = page.locator("#jobs tbody tr").filter(has_text="succeeded")
        assert jobs.count() == 1 and "2" in jobs.locator("td").nth(4).inner_text()
        decision = page.locator(".decision-promoted")
        assert decision.count() == 1
        criteria = decision.locator("ul.criteria li").all_inner_texts()
        for name in ("holdout_size", "training_data_drift", "improvement", "significance",
                     "no_significant_regression", "confidence_stability"):
            assert any(c.startswith(f"{name}: passed") for c in criteria), (name, criteria)
        assert any(c.startswith("significance: passed — p_value ") and "mcnemar_exact" in c
                   for c in criteria), criteria
        page.click("#window-report")
        page.wait_for_load_state()
        assert page.locator("h1").inner_text() == f"Window report — {model}"
        assert re.search(r"drifted: (KS|chi²) significant \(adjusted p [^)]+\), passed on ",
                         page.locator("main").inner_text())
        assert console.errors == []

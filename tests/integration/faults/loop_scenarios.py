"""Fault scenarios of the governed loop: the trainer down with a request queued, MLflow down
during a promotion, the worker killed between the alias move and the publish."""

from __future__ import annotations

import time
from typing import Any

import httpx

from cli.demo_support import free_port
from tests.integration.conftest import produce
from tests.integration.faults.scenarios import (
    Harness,
    Outcome,
    labelled_history,
    mail_audit,
    ready,
    wait,
)
from tests.integration.loop_support import TrainerProcess, bootstrap_versions, mails_to, now


def _subjects(h: Harness) -> list[str]:
    return [m["subject"] for m in mails_to(h.recipient)]


def _decisions(h: Harness, model: str) -> list[dict[str, Any]]:
    return [d for d in h.records("promotion-events") if d["registered_model"] == model]


def trainer_outage(h: Harness, outage: float = 60.0) -> Outcome:
    """A performance drop asks for a retrain while the training service is down: the
    request waits in the queue and is submitted, once, when the service comes up."""
    from tests.synthetic import drift_event

    model = f"{h.unique}-model"
    labelled_history(h, model, "flipped")
    port, web = free_port(), free_port()
    env = {**h.env, "TRAINER__URL": f"http://127.0.0.1:{port}", "TRAINER__RETRIES": "1",
           "TRAINER__BACKOFF_BASE": "0.1", "TRAINER__BREAKER_RESET_SECONDS": "2"}
    h.start_worker(**{k: v for k, v in env.items() if k.startswith("TRAINER__")},
                   WEB_ENABLED="true", WEB_PORT=str(web))
    down_at = time.monotonic()
    produce(h.broker, h.topic("drift-events"), [(model.encode(), drift_event(
        model, "accuracy", kind="performance_drop", when=now()).dumps())])
    waiting = wait("the request waiting in the queue", lambda: [
        j for j in h.records("training-jobs") if j["status"] == "waiting"], 120)
    seen_down = wait("readiness naming the trainer", lambda: (r := ready(web)) and (
        "trainer" in r.get("waiting_for", [])) and r, 60)
    time.sleep(max(0.0, outage - (time.monotonic() - down_at)))
    failed_while_down = [j for j in h.records("training-jobs") if j["status"] == "failed"]
    trainer = TrainerProcess(env, h.tmp / "trainer.log", port=port)
    try:
        trainer.wait_ready()
        back_at = time.monotonic()
        jobs = wait("the job to finish", lambda: (js := h.records("training-jobs")) and any(
            j["status"] in ("succeeded", "failed") for j in js) and js, 240)
        recovery = time.monotonic() - back_at
        listed = httpx.get(f"{trainer.url}/jobs", params={"model_name": model}).json()
        decisions = wait("the promotion decision", lambda: _decisions(h, model), 180)
        wait("the mails", lambda: sum(1 for s in _subjects(h) if "promoted" in s), 60)
    finally:
        trainer.stop()
    mails, log = mail_audit(h)
    return Outcome("trainer stopped", back_at - down_at, events_in=1,
                   dead_letters=len(h.dead_letters()), decisions=len(decisions), mails=mails,
                   recovery=recovery,
                   notes={"statuses": [j["status"] for j in jobs], "trainer_jobs": len(listed),
                          "waiting": len(waiting), "failed_while_down": len(failed_while_down),
                          "down": seen_down, "subjects": _subjects(h), "notifications": log})


def candidate(h: Harness, model: str) -> bytes:
    """Champion v1 (the old relationship); production follows a new one, and the reference
    trainer makes v2 from it (holding out rows for the evaluation, as a real job does).
    Returns the succeeded training job that names v2."""
    from governance.messages import job_event
    from trainer.training import TrainingConfig, TrainingRequest, run_training

    bootstrap_versions(h.env, model, h.tmp, 300, relations=("original",))
    labelled_history(h, model, "flipped")
    trained = run_training(TrainingRequest(model_name=model, registered_model=model),
                           TrainingConfig(tracking_uri=h.env["MLFLOW__TRACKING_URI"],
                                          min_rows=50), h.engine, lambda *_: None)
    assert trained["candidate_version"] == "2", trained
    request = {"request_id": "00000000-0000-4000-8000-000000000001", "model_name": model,
               "model_version": "1", "registered_model": model}
    return job_event(request=request, job_id="job-1", status="succeeded", progress=1.0,
                     message="trained", now=now(), candidate_version="2",
                     run_id=trained["run_id"]).dumps()


def _champion(h: Harness, model: str) -> str | None:
    from integrations.registry import ModelRegistry

    found = ModelRegistry(h.env["MLFLOW__TRACKING_URI"]).alias(model, "champion")
    return found.version if found else None


def mlflow_outage(h: Harness, outage: float = 20.0) -> Outcome:
    model = f"{h.unique}-promo"
    job = candidate(h, model)
    web = free_port()
    h.start_worker(WEB_ENABLED="true", WEB_PORT=str(web))
    h.stack("down", "mlflow")
    down_at = time.monotonic()
    produce(h.broker, h.topic("training-jobs"), [(model.encode(), job)])
    seen_down = wait("readiness naming mlflow", lambda: (r := ready(web)) and (
        "mlflow" in r.get("waiting_for", [])) and r, 90)
    time.sleep(max(0.0, outage - (time.monotonic() - down_at)))
    while_down = len(_decisions(h, model))
    h.stack("up", "mlflow")
    back_at = time.monotonic()
    decisions = wait("the promotion decision", lambda: _decisions(h, model), 240)
    recovery = time.monotonic() - back_at
    wait("the promotion mail", lambda: any(f"{model} v2 promoted" in s for s in _subjects(h)), 60)
    time.sleep(2)  # anything duplicated would be on the topic by now; then count
    decisions = _decisions(h, model)
    mails, log = mail_audit(h)
    return Outcome("mlflow stopped", back_at - down_at, events_in=1,
                   dead_letters=len(h.dead_letters()), decisions=len(decisions), mails=mails,
                   recovery=recovery,
                   notes={"decided_while_down": while_down, "down": seen_down,
                          "decision": decisions[0]["decision"], "champion": _champion(h, model),
                          "notifications": log})


def killed_between_alias_and_publish(h: Harness) -> Outcome:
    model = f"{h.unique}-crash"
    job = candidate(h, model)
    first = h.start_worker(DRIFTLINE_TEST_CRASH_AT="promotion.after_alias_move")
    produce(h.broker, h.topic("training-jobs"), [(model.encode(), job)])
    wait("the worker to be killed at the hook", lambda: not first.alive, 240)
    killed_at = time.monotonic()
    moved = _champion(h, model)
    published_before = len(_decisions(h, model))
    h.start_worker()
    decisions = wait("the promotion decision", lambda: _decisions(h, model), 240)
    recovery = time.monotonic() - killed_at
    wait("the promotion mail", lambda: any(f"{model} v2 promoted" in s for s in _subjects(h)), 60)
    time.sleep(2)
    decisions = _decisions(h, model)
    mails, log = mail_audit(h)
    return Outcome("worker SIGKILLed after the alias move", 0.0, events_in=1,
                   dead_letters=len(h.dead_letters()), decisions=len(decisions), mails=mails,
                   recovery=recovery,
                   notes={"champion_after_kill": moved, "published_before": published_before,
                          "decision": decisions[0]["decision"], "champion": _champion(h, model),
                          "notifications": log, "subjects": _subjects(h)})


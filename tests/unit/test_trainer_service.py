"""The reference trainer's API and job manager, with a fake training function."""

from __future__ import annotations

import threading
import time

from fastapi.testclient import TestClient

from trainer.service import JobManager, build_app
from trainer.training import TrainingRequest


def wait(client: TestClient, job_id: str, statuses: set[str]) -> dict:
    for _ in range(200):
        job = client.get(f"/jobs/{job_id}").json()
        if job["status"] in statuses:
            return job
        time.sleep(0.01)
    raise AssertionError(job)


def test_jobs_are_idempotent_on_the_key_and_report_progress():
    calls: list[TrainingRequest] = []

    def runner(request, report):
        calls.append(request)
        report(0.5, "half way")
        return {"candidate_version": "7", "run_id": "r", "metrics": {"acc": 1.0}}

    client = TestClient(build_app(JobManager(runner), lambda m: f"reg-{m}"))
    first = client.post("/jobs", json={"model_name": "m"}, headers={"Idempotency-Key": "k"})
    again = client.post("/jobs", json={"model_name": "m"}, headers={"Idempotency-Key": "k"})
    assert first.status_code == 202 and again.status_code == 200
    assert first.json()["job_id"] == again.json()["job_id"]
    done = wait(client, first.json()["job_id"], {"succeeded"})
    assert done["progress"] == 1.0 and done["candidate_version"] == "7"
    assert len(calls) == 1 and calls[0].registered_model == "reg-m"
    assert client.post("/jobs", json={"model_name": "m"}).status_code == 400
    assert client.get("/jobs/nope").status_code == 404
    assert len(client.get("/jobs", params={"model_name": "m"}).json()) == 1


def test_a_failing_job_fails_and_a_running_job_can_be_cancelled():
    gate = threading.Event()

    def runner(request, report):
        if request.model_name == "bad":
            raise ValueError("3 training row(s)")
        gate.wait(5)
        report(0.9, "still going")  # raises Cancelled once cancel was asked
        return {}

    client = TestClient(build_app(JobManager(runner, concurrency=2)))
    bad = client.post("/jobs", json={"model_name": "bad"}, headers={"Idempotency-Key": "b"}).json()
    assert "3 training row(s)" in wait(client, bad["job_id"], {"failed"})["message"]
    slow = client.post("/jobs", json={"model_name": "m"}, headers={"Idempotency-Key": "s"}).json()
    wait(client, slow["job_id"], {"running"})
    client.post(f"/jobs/{slow['job_id']}/cancel")
    gate.set()
    assert wait(client, slow["job_id"], {"cancelled", "succeeded"})["status"] == "cancelled"

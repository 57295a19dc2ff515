"""The reference training service (``driftline trainer``): an HTTP API over background jobs.

``POST /jobs`` with an ``Idempotency-Key`` header creates a job once per key (202); the same
key again returns the same job (200). Jobs run on a small thread pool and report progress;
``POST /jobs/{id}/cancel`` stops one between steps. Jobs live in memory: a restarted trainer
forgets them (the worker then marks an unknown job failed).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import FastAPI, Header, HTTPException, Response
from pydantic import BaseModel, Field

from trainer.training import Cancelled, TrainingRequest

log = logging.getLogger(__name__)
Runner = Callable[[TrainingRequest, Callable[[float, str], None]], dict[str, Any]]


class JobIn(BaseModel):
    model_name: str = Field(min_length=1, max_length=128)
    registered_model: str | None = Field(default=None, max_length=256)
    request_id: str | None = None
    until: datetime | None = None
    window_hours: float | None = Field(default=None, gt=0)
    set_champion: bool = False


@dataclass
class Job:
    job_id: str
    key: str
    request: TrainingRequest
    status: str = "queued"
    progress: float = 0.0
    message: str = "queued"
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    updated_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    candidate_version: str | None = None
    run_id: str | None = None
    metrics: dict[str, Any] | None = None
    cancel: threading.Event = field(default_factory=threading.Event)

    def view(self) -> dict[str, Any]:
        return {"job_id": self.job_id, "idempotency_key": self.key,
                "model_name": self.request.model_name,
                "registered_model": self.request.registered_model, "status": self.status,
                "progress": self.progress, "message": self.message,
                "created_at": self.created_at, "updated_at": self.updated_at,
                "candidate_version": self.candidate_version, "run_id": self.run_id,
                "metrics": self.metrics}


class JobManager:
    def __init__(self, runner: Runner, concurrency: int = 1) -> None:
        self.runner = runner
        self._jobs: dict[str, Job] = {}
        self._by_key: dict[str, str] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="train")

    def submit(self, key: str, request: TrainingRequest) -> tuple[Job, bool]:
        with self._lock:
            existing = self._by_key.get(key)
            if existing is not None:
                return self._jobs[existing], False
            job = Job(job_id=str(uuid.uuid4()), key=key, request=request)
            self._jobs[job.job_id] = job
            self._by_key[key] = job.job_id
        self._pool.submit(self._run, job)
        return job, True

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def jobs(self) -> list[Job]:
        return list(self._jobs.values())

    def cancel(self, job_id: str) -> Job | None:
        job = self._jobs.get(job_id)
        if job is not None and job.status in ("queued", "running"):
            job.cancel.set()
            if job.status == "queued":
                self._update(job, status="cancelled", message="cancelled before it started")
        return job

    def shutdown(self) -> None:
        for job in self._jobs.values():
            job.cancel.set()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _update(self, job: Job, **changes: Any) -> None:
        with self._lock:
            for name, value in changes.items():
                setattr(job, name, value)
            job.updated_at = datetime.now(UTC).isoformat()

    def _run(self, job: Job) -> None:
        if job.cancel.is_set():
            return

        def report(progress: float, message: str) -> None:
            if job.cancel.is_set():
                raise Cancelled()
            self._update(job, progress=max(job.progress, min(1.0, progress)), message=message)

        self._update(job, status="running", message="started")
        try:
            result = self.runner(job.request, report)
        except Cancelled:
            self._update(job, status="cancelled", message="cancelled")
        except Exception as exc:  # the job fails, the service stays up
            log.exception("job %s failed", job.job_id)
            self._update(job, status="failed", message=f"{exc.__class__.__name__}: {exc}"[:2000])
        else:
            self._update(job, status="succeeded", progress=1.0, message="done",
                         candidate_version=result.get("candidate_version"),
                         run_id=result.get("run_id"), metrics=result.get("metrics"))


def build_app(manager: JobManager, registered_name: Callable[[str], str] = lambda m: m) -> FastAPI:
    app = FastAPI(title="driftline reference training service")

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/jobs", status_code=202)
    def create_job(body: JobIn, response: Response,
                   idempotency_key: Annotated[str | None, Header()] = None) -> dict[str, Any]:
        if not idempotency_key:
            raise HTTPException(400, "the Idempotency-Key header is required")
        request = TrainingRequest(
            model_name=body.model_name,
            registered_model=body.registered_model or registered_name(body.model_name),
            request_id=body.request_id, until=body.until, window_hours=body.window_hours,
            set_champion=body.set_champion)
        job, created = manager.submit(idempotency_key[:200], request)
        if not created:
            response.status_code = 200
        return job.view()

    @app.get("/jobs")
    def list_jobs(model_name: str | None = None) -> list[dict[str, Any]]:
        return [j.view() for j in manager.jobs() if model_name in (None, j.request.model_name)]

    @app.get("/jobs/{job_id}")
    def get_job(job_id: str) -> dict[str, Any]:
        job = manager.get(job_id)
        if job is None:
            raise HTTPException(404, f"no job {job_id}")
        return job.view()

    @app.post("/jobs/{job_id}/cancel")
    def cancel_job(job_id: str) -> dict[str, Any]:
        job = manager.cancel(job_id)
        if job is None:
            raise HTTPException(404, f"no job {job_id}")
        return job.view()

    return app

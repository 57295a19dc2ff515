"""Training agents: accepted requests → jobs on the training service → job states.

* ``dispatch_training`` submits each accepted request (idempotency key = request id), most
  urgent first within a batch, and records the job in the ``training-inflight`` table;
* a timer polls in-flight jobs and publishes every state change to ``training-jobs``;
* ``track_training_jobs`` drops finished jobs from the table and raises ``training_failed``
  alerts.

A training service that stays down costs bounded retries (and then fast failures while the
circuit is open); the request's job is published as failed, never silently dropped.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import faust
import orjson
from faust.types import EventT

from faust_app import app, settings
from governance.messages import job_event, training_failed_alert
from integrations.resilience import Backoff, CircuitBreaker, CircuitOpen
from integrations.trainer import JobState, TrainerClient, TrainerRejected, TrainerUnavailable
from observability import tracing
from observability.logs import correlated
from observability.metrics import TRAINING_JOBS
from schemas.events import decode
from schemas.governance import TERMINAL_JOB_STATUSES, RetrainRequest, TrainingJob
from schemas.spec import InvalidEvent
from streams.telemetry import handling, use_event
from streams.topics import alerts_topic, retrain_requests_topic, training_jobs_topic
from tables.feature_state import writing_for
from tables.governance import training_inflight

log = logging.getLogger(__name__)
LIMITS = settings.limits.for_events()
clock: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731

_client: TrainerClient | None = None
#: what this process last published per request, and consecutive failed polls
_seen: dict[str, tuple[str, float]] = {}
_poll_failures: dict[str, int] = {}
_finished: set[str] = set()


def client() -> TrainerClient:
    global _client
    if _client is None:
        t = settings.trainer
        _client = TrainerClient(
            t.url, timeout=t.timeout, retries=t.retries,
            backoff=Backoff(base=t.backoff_base, cap=t.backoff_max),
            breaker=CircuitBreaker("training service", t.breaker_failures, t.breaker_reset_seconds))
    return _client


async def publish(job: TrainingJob) -> None:
    await training_jobs_topic.send(key=job.model_name.encode(), value=job.dumps())
    TRAINING_JOBS.labels(job.status).inc()
    _seen[job.request_id] = (job.status, round(job.progress, 2))
    if job.status in TERMINAL_JOB_STATUSES:
        _finished.add(job.request_id)
    log.info("training job for %s (%s): %s %.0f%% %s", job.model_name, job.request_id,
             job.status, job.progress * 100, job.message[:200])


async def submit(event: EventT, request: RetrainRequest) -> None:
    payload = {"model_name": request.model_name, "registered_model": request.registered_model,
               "request_id": request.request_id, "until": request.timestamp}
    started = time.monotonic()
    try:
        state = await client().submit(payload, idempotency_key=request.request_id)
    except (TrainerUnavailable, CircuitOpen, TrainerRejected) as exc:
        await publish(job_event(
            request=request, job_id="", status="failed", progress=0.0, now=clock(),
            message=f"submission failed after {time.monotonic() - started:.1f}s: {exc}"))
        return
    info = {"request_id": request.request_id, "job_id": state.job_id,
            "model_name": request.model_name, "model_version": request.model_version,
            "registered_model": request.registered_model, "submitted_at": clock().isoformat()}
    if trace := tracing.carrier():  # the poll timer publishes the job's states in this trace
        info["trace"] = trace
    with writing_for(event):
        training_inflight[request.request_id.encode()] = orjson.dumps(info)
    await publish(job_event(request=request, job_id=state.job_id, status="submitted",
                            progress=state.progress, now=clock(),
                            message=f"submitted to {settings.trainer.url} as job {state.job_id} "
                                    f"({state.status})"))


@app.agent(retrain_requests_topic, concurrency=1)
async def dispatch_training(stream: faust.StreamT[bytes]) -> None:
    async for events in stream.take_events(100, within=1.0):
        accepted: list[tuple[EventT, RetrainRequest]] = []
        for event in events:
            try:
                request = decode(event.message.value, RetrainRequest, LIMITS)
            except InvalidEvent:
                continue  # the retrain-requests sink dead-letters it
            if request.decision == "accepted" and training_inflight.get(
                    request.request_id.encode()) is None and request.request_id not in _finished:
                accepted.append((event, request))
        accepted.sort(key=lambda item: (-item[1].priority, item[1].timestamp))
        with handling(events):
            for event, request in accepted:
                try:
                    with use_event(event), correlated(request.event_id):
                        await submit(event, request)
                except Exception:
                    log.exception("dispatching request %s failed", request.request_id)


def _changed(request_id: str, state: JobState) -> bool:
    return _seen.get(request_id) != (state.status, round(state.progress, 2))


async def poll_once() -> int:
    """Poll every in-flight job once; publish changes. Returns the number published."""
    published = 0
    now = clock()
    for _, raw in list(training_inflight.items()):
        if raw is None:
            continue
        info: dict[str, Any] = orjson.loads(raw)
        request_id = info["request_id"]
        if request_id in _finished:
            continue
        with tracing.resume(info.get("trace")):
            published += await _poll_job(info, request_id, now)
    return published


async def _poll_job(info: dict[str, Any], request_id: str, now: datetime) -> int:
    """Poll one job; publish its state if it changed. Returns the number published (0 or 1)."""
    age = (now - datetime.fromisoformat(info["submitted_at"])).total_seconds()
    try:
        state = await client().status(info["job_id"])
    except TrainerRejected as exc:
        await publish(job_event(request=info, job_id=info["job_id"], status="failed",
                                progress=0.0, now=now,
                                message=f"the training service lost the job: {exc}"))
        return 1
    except (TrainerUnavailable, CircuitOpen) as exc:
        failures = _poll_failures[request_id] = _poll_failures.get(request_id, 0) + 1
        if failures >= settings.trainer.max_poll_failures:
            await publish(job_event(request=info, job_id=info["job_id"], status="failed",
                                    progress=0.0, now=now,
                                    message=f"status unknown after {failures} failed polls: {exc}"))
            return 1
        return 0
    _poll_failures.pop(request_id, None)
    if state.status not in TERMINAL_JOB_STATUSES and age > settings.trainer.job_timeout_seconds:
        try:
            await client().cancel(info["job_id"])
        except (TrainerUnavailable, CircuitOpen, TrainerRejected):
            pass
        await publish(job_event(request=info, job_id=info["job_id"], status="failed",
                                progress=state.progress, now=now,
                                message=f"timed out after {age:.0f}s; cancelled"))
        return 1
    if _changed(request_id, state):
        status = state.status if state.status in ("queued", "running", *TERMINAL_JOB_STATUSES) \
            else "running"
        await publish(job_event(request=info, job_id=state.job_id, status=status,
                                progress=state.progress, message=state.message, now=now,
                                candidate_version=state.candidate_version,
                                run_id=state.run_id, metrics=state.metrics))
        return 1
    return 0


@app.timer(interval=settings.trainer.poll_seconds)
async def poll_training_jobs() -> None:
    try:
        await poll_once()
    except Exception:
        log.exception("polling training jobs failed")


@app.agent(training_jobs_topic, concurrency=1)
async def track_training_jobs(stream: faust.StreamT[bytes]) -> None:
    async for events in stream.take_events(100, within=0.5):
        with handling(events):
            for event in events:
                try:
                    job = decode(event.message.value, TrainingJob, LIMITS)
                except InvalidEvent:
                    continue  # the training-jobs sink dead-letters it
                if job.status not in TERMINAL_JOB_STATUSES:
                    continue
                key = job.request_id.encode()
                if training_inflight.get(key) is not None:
                    with writing_for(event):
                        del training_inflight[key]
                if job.status == "failed":
                    with use_event(event):
                        await alerts_topic.send(key=job.model_name.encode(),
                                                value=training_failed_alert(job).dumps())

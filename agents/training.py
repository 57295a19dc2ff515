"""Training agents: accepted requests → the durable retrain queue → jobs on the training
service → job states.

* ``schedule_training`` reads accepted requests and job states in one stream (both keyed by
  model, co-partitioned). An accepted request joins the ``retrain-queue`` table and is
  published as ``waiting``; whenever capacity allows (``RETRAIN__MAX_CONCURRENT_JOBS`` in all,
  ``RETRAIN__MAX_CONCURRENT_JOBS_PER_MODEL`` per model) the most urgent waiting request
  (:mod:`governance.queue`) is submitted with its request id as ``Idempotency-Key`` and
  recorded in ``training-inflight``. A finished job frees its place and, if it failed,
  raises a ``training_failed`` alert.
* a timer polls in-flight jobs and publishes every state change to ``training-jobs``.

A training service that is down is backpressure: the submission is held and retried with
capped backoff until the service answers (``driftline_dependency_up{dependency="trainer"}``
is 0 meanwhile), and polls simply wait; neither turns an outage into a failed job. A
request the service refuses (4xx) is published as an explicit ``failed`` job with an alert.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import faust
import orjson
from faust.types import EventT

from faust_app import app, settings
from governance.messages import job_event, training_failed_alert
from governance.queue import DONE_RETENTION_DAYS, QueueEntry, next_to_submit, waiting
from integrations.trainer import JobState, TrainerClient, TrainerRejected, TrainerUnavailable
from observability import tracing
from observability.logs import correlated
from observability.metrics import RETRAIN_QUEUE, TRAINING_JOBS
from resilience import backpressure
from resilience.backpressure import circuit_wait, hold
from resilience.retry import Backoff, CircuitBreaker, CircuitOpen
from schemas.events import decode
from schemas.governance import TERMINAL_JOB_STATUSES, RetrainRequest, TrainingJob
from schemas.spec import InvalidEvent
from streams.admin import kafka_transient
from streams.gaps import process_batches
from streams.telemetry import use_event
from streams.topics import alerts_topic, training_inputs_topic, training_jobs_topic
from tables.feature_state import writing_for
from tables.governance import retrain_queue, training_inflight

log = logging.getLogger(__name__)
LIMITS = settings.limits.for_events()
REQUESTS_TOPIC = settings.kafka.topics.name("retrain_requests")
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


class Pinned:
    """Stands for an event of ``partition`` of the retrain-requests topic while writing a
    table: an entry is always written (and deleted) in the partition it lives in, its
    model's, whichever event led to the write. faust reads ``message.partition`` and
    ``message.topic`` (to check the topic and the changelog agree on partitions)."""

    class Message:
        def __init__(self, partition: int) -> None:
            self.partition, self.topic = partition, REQUESTS_TOPIC

    def __init__(self, partition: int) -> None:
        self.message = self.Message(partition)


def trainer_down(exc: BaseException) -> bool:
    return isinstance(exc, TrainerUnavailable | CircuitOpen)


async def publish(job: TrainingJob) -> None:
    async def send() -> None:
        await (await training_jobs_topic.send(key=job.model_name.encode(), value=job.dumps()))

    await hold("kafka", send, transient=kafka_transient, agent="training")
    TRAINING_JOBS.labels(job.status).inc()
    _seen[job.request_id] = (job.status, round(job.progress, 2))
    if job.status in TERMINAL_JOB_STATUSES:
        _finished.add(job.request_id)
    log.info("training job for %s (%s): %s %.0f%% %s", job.model_name, job.request_id,
             job.status, job.progress * 100, job.message[:200])


def queue_entries() -> list[QueueEntry]:
    return [QueueEntry.decode(raw) for _, raw in list(retrain_queue.items()) if raw is not None]


def running_models() -> list[str]:
    return [orjson.loads(raw)["model_name"] for _, raw in list(training_inflight.items())
            if raw is not None]


async def enqueue(event: EventT, request: RetrainRequest) -> None:
    """An accepted request joins the queue (once: a redelivered one is already there)."""
    key = request.request_id.encode()
    if (retrain_queue.get(key) is not None or training_inflight.get(key) is not None
            or request.request_id in _finished):
        return
    entry = QueueEntry.of(request, event.message.partition, tracing.carrier() or None)
    position = 1 + sum(1 for e in waiting(queue_entries()) if e.order() < entry.order())
    await publish(job_event(request=request, job_id="", status="waiting", progress=0.0,
                            now=clock(), message=f"in the retrain queue at position {position} "
                            f"(priority {request.priority})"))
    with writing_for(event):
        retrain_queue[key] = entry.encode()


async def submit(entry: QueueEntry) -> None:
    """Submit one queued request; held while the training service is down."""
    payload = {"model_name": entry.model_name, "registered_model": entry.registered_model,
               "request_id": entry.request_id, "until": entry.requested_at}
    key = entry.request_id.encode()
    request = asdict(entry)
    done = replace(entry, state="done", done_at=clock().isoformat())
    try:
        state = await hold("trainer", lambda: client().submit(
            payload, idempotency_key=entry.request_id), transient=trainer_down,
            wait_hint=circuit_wait, agent="training")
    except TrainerRejected as exc:
        await publish(job_event(request=request, job_id="", status="failed", progress=0.0,
                                now=clock(), message=f"the training service refused it: {exc}"))
        with writing_for(Pinned(entry.partition)):
            retrain_queue[key] = done.encode()
        return
    info = {"request_id": entry.request_id, "job_id": state.job_id,
            "model_name": entry.model_name, "model_version": entry.model_version,
            "registered_model": entry.registered_model, "submitted_at": clock().isoformat()}
    if entry.trace:  # the poll timer publishes the job's states in the request's trace
        info["trace"] = entry.trace
    with writing_for(Pinned(entry.partition)):
        training_inflight[key] = orjson.dumps(info)
        retrain_queue[key] = done.encode()
    await publish(job_event(request=request, job_id=state.job_id, status="submitted",
                            progress=state.progress, now=clock(),
                            message=f"submitted to {settings.trainer.url} as job {state.job_id} "
                                    f"({state.status})"))


async def serve() -> int:
    """Submit what the queue and the trainer's capacity allow; forget old served entries."""
    entries = queue_entries()
    horizon = (clock() - timedelta(days=DONE_RETENTION_DAYS)).isoformat()
    for entry in entries:
        if entry.state == "done" and (entry.done_at or "") < horizon:
            with writing_for(Pinned(entry.partition)):
                del retrain_queue[entry.request_id.encode()]
    r = settings.retrain
    chosen = next_to_submit(entries, running_models(), max_total=r.max_concurrent_jobs,
                            max_per_model=r.max_concurrent_jobs_per_model)
    for entry in chosen:
        with tracing.resume(entry.trace), correlated(entry.request_id):
            await submit(entry)
    RETRAIN_QUEUE.set(len(waiting(queue_entries())))
    return len(chosen)


async def finished(event: EventT, job: TrainingJob) -> None:
    """A job reached a final state: free its place; a failure raises an alert."""
    key = job.request_id.encode()
    if training_inflight.get(key) is not None:
        with writing_for(event):
            del training_inflight[key]
    queued = retrain_queue.get(key)
    if queued is not None and QueueEntry.decode(queued).state == "queued":
        with writing_for(event):  # failed before it was submitted (cancelled while waiting)
            retrain_queue[key] = replace(QueueEntry.decode(queued), state="done",
                                         done_at=clock().isoformat()).encode()
    if job.status == "failed":
        alert = training_failed_alert(job)
        with use_event(event):
            async def send() -> None:
                await (await alerts_topic.send(key=job.model_name.encode(), value=alert.dumps()))

            await hold("kafka", send, transient=kafka_transient, agent="training")


async def process_batch(events: list[EventT]) -> None:
    for event in events:
        if event.message.topic == REQUESTS_TOPIC:
            try:
                request = decode(event.message.value, RetrainRequest, LIMITS)
            except InvalidEvent:
                continue  # the retrain-requests sink dead-letters it
            if request.decision == "accepted":
                with use_event(event), correlated(request.event_id):
                    await enqueue(event, request)
            continue
        try:
            job = decode(event.message.value, TrainingJob, LIMITS)
        except InvalidEvent:
            continue  # the training-jobs sink dead-letters it
        if job.status in TERMINAL_JOB_STATUSES:
            await finished(event, job)
    await serve()


@app.agent(training_inputs_topic, concurrency=1)
async def schedule_training(stream: faust.StreamT[bytes]) -> None:
    await process_batches(app, stream, "schedule_training", process_batch, size=100,
                          within=1.0, enabled=settings.kafka.offset_guard)


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
        # an outage: the job is not failed for it, polling goes on until the service is back
        failures = _poll_failures[request_id] = _poll_failures.get(request_id, 0) + 1
        backpressure.mark_down("trainer", f"poll:{request_id}")
        if failures == settings.trainer.max_poll_failures:
            log.error("training job %s: status unknown after %d failed polls (%s); still "
                      "polling", info["job_id"], failures, exc)
        return 0
    _poll_failures.pop(request_id, None)
    backpressure.mark_up("trainer", f"poll:{request_id}")
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
    except backpressure.Interrupted:  # a rebalance: the next tick publishes what changed
        log.info("polling training jobs: a held publish is left to the rebalance")
    except Exception:  # the next tick polls again; in-flight jobs are in the table
        log.exception("polling training jobs failed")

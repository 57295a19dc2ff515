"""Work given up for a rebalance is not a failure: the agents' ``except Exception`` for real
failures (a row the database refuses, an evaluation that crashes) must let it through —
otherwise an outage that meets a rebalance dead-letters valid rows or publishes a "failed"
promotion, and the batch is acknowledged instead of being read again."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from resilience import backpressure
from tests.unit.observability.conftest import FakeEvent, FakeMessage


@pytest.fixture
def rebalancing():
    backpressure.interrupt()
    yield
    backpressure.rebalanced()


def _down(*args: Any) -> int:
    raise OperationalError("INSERT", {}, ConnectionRefusedError("connection refused"))


async def test_a_sink_gives_its_batch_up_for_a_rebalance_instead_of_dead_lettering_it(
        rebalancing, monkeypatch):
    from agents import sinks

    letters: list[Any] = []

    async def dead_letter(*args: Any) -> None:
        letters.append(args)

    monkeypatch.setattr(sinks, "send_dead_letter", dead_letter)
    with pytest.raises(backpressure.Interrupted):
        event = FakeEvent(FakeMessage("training-jobs", offset=7))
        await sinks.write_batch("training_jobs", _down, [(event, object())])
    assert letters == []


async def test_promotion_defers_its_decision_for_a_rebalance_instead_of_failing_it(
        rebalancing, monkeypatch):
    from agents import promotion
    from governance.messages import job_event

    published: list[Any] = []

    async def publish(job: Any, decision: Any) -> None:
        published.append(decision)

    def mlflow_down(job: Any) -> Any:
        raise ConnectionError("Max retries exceeded: Connection refused")

    monkeypatch.setattr(promotion, "publish", publish)
    monkeypatch.setattr(promotion, "recall", mlflow_down)
    request = {"request_id": str(uuid.uuid4()), "model_name": "m", "model_version": "1",
               "registered_model": "m"}
    job = job_event(request=request, job_id="j", status="succeeded", progress=1.0, message="",
                    now=datetime.now(UTC), candidate_version="2")
    with pytest.raises(backpressure.Interrupted):
        await promotion.consider(FakeEvent(FakeMessage("training-jobs", offset=3,
                                                       value=job.dumps())))
    assert published == []  # no "failed" decision: the job is read again after the rebalance

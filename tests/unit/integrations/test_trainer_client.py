"""The training-service client's retry policy, driven through httpx's transport seam."""

from __future__ import annotations

import httpx
import pytest

from integrations.trainer import TrainerClient, TrainerRejected, TrainerUnavailable
from resilience.retry import Backoff, CircuitBreaker, CircuitOpen

JOB = {"job_id": "j1", "status": "queued", "progress": 0.0, "message": "queued"}


class Script:
    """Answers requests from a list of responses (or exceptions), recording what it saw."""

    def __init__(self, *answers) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def make(script: Script, sleeps: list[float], retries: int = 3, breaker=None) -> TrainerClient:
    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    return TrainerClient("http://trainer.test", retries=retries, backoff=Backoff(0.5, 8.0),
                         breaker=breaker, sleep=sleep, transport=httpx.MockTransport(script))


async def test_503_twice_then_success_retries_with_the_same_idempotency_key():
    script = Script(httpx.Response(503), httpx.Response(503), httpx.Response(202, json=JOB))
    sleeps: list[float] = []
    async with make(script, sleeps) as client:
        job = await client.submit({"model_name": "m"}, idempotency_key="req-1")
    assert job.job_id == "j1"
    assert [r.headers["Idempotency-Key"] for r in script.requests] == ["req-1"] * 3
    assert len(sleeps) == 2 and 0.25 <= sleeps[0] <= 0.5 and 0.5 <= sleeps[1] <= 1.0


async def test_429_honours_retry_after_and_connect_errors_are_retried():
    script = Script(httpx.Response(429, headers={"Retry-After": "3"}),
                    httpx.ConnectError("refused"), httpx.Response(200, json=JOB))
    sleeps: list[float] = []
    async with make(script, sleeps) as client:
        assert (await client.status("j1")).status == "queued"
    assert sleeps[0] == 3.0 and len(sleeps) == 2


async def test_retries_are_bounded_and_4xx_is_not_retried():
    sleeps: list[float] = []
    script = Script(*[httpx.Response(500)] * 3)
    async with make(script, sleeps, retries=2) as client:
        with pytest.raises(TrainerUnavailable) as info:
            await client.status("j1")
    assert info.value.attempts == 3 and len(script.requests) == 3 and len(sleeps) == 2
    script = Script(httpx.Response(404, text="no job"))
    async with make(script, []) as client:
        with pytest.raises(TrainerRejected) as rejected:
            await client.status("nope")
    assert rejected.value.status == 404 and len(script.requests) == 1


async def test_an_open_circuit_fails_fast_without_calling():
    breaker = CircuitBreaker("t", failure_threshold=2, reset_timeout=60)
    script = Script(httpx.ConnectError("down"), httpx.ConnectError("down"))
    async with make(script, [], retries=5, breaker=breaker) as client:
        with pytest.raises(CircuitOpen):
            await client.status("j1")
        assert len(script.requests) == 2
        with pytest.raises(CircuitOpen):
            await client.submit({}, idempotency_key="k")
    assert len(script.requests) == 2

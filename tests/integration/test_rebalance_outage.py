"""A rebalance while the training service is down completes at once: the work held for it is
given up unacknowledged and held again by whichever worker owns it afterwards."""

from __future__ import annotations

import time

import pytest

from tests.integration.conftest import produce, read_to_end
from tests.integration.loop_support import closed_port, now, records
from tests.synthetic import drift_event

pytestmark = pytest.mark.integration
READY = "[^---Recovery]: Worker ready"


def _until(what: str, check, timeout: float, *workers) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}" + "".join(
            f"\n--- worker {n}, last lines:\n{w.output()[-6000:]}" for n, w in enumerate(workers))
        time.sleep(0.3)


def test_a_rebalance_during_a_trainer_outage_does_not_wait_for_held_training_jobs(
        unique, base_env, worker_factory, broker):
    env = {**base_env, "TRAINER__URL": f"http://127.0.0.1:{closed_port()}",
           "TRAINER__RETRIES": "1", "TRAINER__BACKOFF_BASE": "0.1"}
    models = [f"{unique}-m{i}" for i in range(6)]
    a = worker_factory(**env)
    produce(broker, f"{unique}-drift-events", [(m.encode(), drift_event(
        m, "x1", kind="performance_drop", when=now()).dumps()) for m in models])
    # every request accepted and queued ("waiting" on training-jobs, taken by the job sink
    # and promote_candidates at once, by schedule_training only after its held batch)
    jobs = records(broker, f"{unique}-training-jobs", lambda r: len(r) >= len(models))
    assert sorted(j["model_name"] for j in jobs) == models
    _until("the submission held", lambda: "trainer unavailable (" in a.output(), 60)
    rebalances = a.output().count(READY)

    b = worker_factory(wait=False, **env)  # joins: the group rebalances
    # the rebalance finished on the worker that held the work (before the fix it waited in
    # wait_empty for training-jobs events no agent works on, until the broker expelled it)
    _until("the rebalance to finish on the holding worker",
           lambda: a.output().count(READY) > rebalances and READY in b.output(), 120)
    assert "wait_empty: Waiting for tasks" not in a.output(), a.output()[-5000:]
    assert "a held batch of" in a.output()  # given up, unacknowledged

    # nothing lost: whoever owns the queued requests now holds them for the trainer again,
    # no job failed for the outage and nothing was dead-lettered
    # (a hold logs "unavailable" once, at its first failed try, which may come before the
    # worker logs that it is ready: what counts is a's output after it gave up its held
    # batch, and b's, which started after)
    _until("the requests held again after the rebalance", lambda: any(
        "trainer unavailable (" in text for text in (
            a.output().split("a held batch of")[-1], b.output())), 90, a, b)
    states = records(broker, f"{unique}-training-jobs", lambda r: len(r) >= len(models))
    assert {j["status"] for j in states} == {"waiting"}, states
    assert read_to_end(broker, f"{unique}-dead-letters") == []

"""The fault suite: the real services stopped, restarted and killed under load, and the
invariants that must hold through it — every valid event counted once, every window's
results in PostgreSQL exactly once, no valid event dead-lettered, exactly one decision and
one mail per fired alert or finished job. ``bench/faults.py`` runs the same scenarios and
prints their figures."""

from __future__ import annotations

import pytest

from tests.integration.faults import loop_scenarios, scenarios

pytestmark = pytest.mark.integration


def assert_stream_invariants(outcome: scenarios.Outcome) -> None:
    notes = outcome.notes
    assert outcome.results_stored == notes["expected_results"], notes
    per_model = outcome.events_in // len(notes["counted"])
    assert all(n == per_model for n in notes["counted"].values()), notes["counted"]
    assert outcome.dead_letters == 0
    log = notes["notifications"]
    assert notes["alerts"] >= 1 and sum(log.values()) == notes["alerts"], log  # each decided once
    assert "failed" not in log, log
    assert outcome.mails == log.get("sent", 0), (outcome.mails, log)  # one mail per sent alert
    assert notes["after"]["http_status"] == 200 and notes["after"]["waiting_for"] == []


def test_postgres_stopped_45s_while_20000_events_flow(harness):
    outcome = scenarios.stream_outage(harness, "postgres", 45.0)
    assert outcome.duration >= 45.0
    assert outcome.events_in == 20_000
    down = outcome.notes["down"]
    assert down["http_status"] == 503 and "postgres" in down["waiting_for"] and down["gauge"] == 0.0
    assert_stream_invariants(outcome)


def test_kafka_broker_restarted_mid_stream(harness):
    outcome = scenarios.stream_outage(harness, "kafka", 0.0, models=2, per_model=4000)
    assert_stream_invariants(outcome)


def test_smtp_down_while_alerts_fire(harness):
    outcome = scenarios.smtp_outage(harness, outage=15.0, alerts=3)
    assert outcome.notes["down"]["http_status"] == 503
    assert outcome.notes["mailed_while_down"] == 0
    assert outcome.mails == 3 and outcome.notes["notifications"] == {"sent": 3}
    assert outcome.dead_letters == 0


def test_trainer_down_60s_with_a_request_queued(harness):
    outcome = loop_scenarios.trainer_outage(harness, outage=60.0)
    notes = outcome.notes
    assert outcome.duration >= 60.0
    assert notes["down"]["http_status"] == 503 and notes["failed_while_down"] == 0
    statuses = notes["statuses"]
    assert statuses[0] == "waiting" and statuses[-1] == "succeeded", statuses
    assert statuses.count("submitted") == 1 and "failed" not in statuses
    assert notes["trainer_jobs"] == 1  # one job on the service, whatever was retried
    assert outcome.decisions == 1
    subjects = notes["subjects"]
    assert sum("promoted" in s for s in subjects) == 1, subjects
    assert sum("retrain accepted" in s for s in subjects) == 1, subjects
    assert outcome.dead_letters == 0


def test_mlflow_stopped_during_a_promotion(harness):
    outcome = loop_scenarios.mlflow_outage(harness, outage=15.0)
    notes = outcome.notes
    assert notes["down"]["http_status"] == 503 and notes["decided_while_down"] == 0
    assert outcome.decisions == 1 and notes["decision"] == "promoted"  # deferred, not skipped
    assert notes["champion"] == "2"
    assert notes["notifications"] == {"sent": 1} and outcome.mails == 1
    assert outcome.dead_letters == 0


def test_worker_killed_between_the_alias_move_and_the_publish(harness):
    outcome = loop_scenarios.killed_between_alias_and_publish(harness)
    notes = outcome.notes
    assert notes["champion_after_kill"] == "2" and notes["published_before"] == 0
    assert outcome.decisions == 1 and notes["decision"] == "promoted"
    assert notes["champion"] == "2"
    assert notes["notifications"] == {"sent": 1} and outcome.mails == 1, notes
    assert outcome.dead_letters == 0

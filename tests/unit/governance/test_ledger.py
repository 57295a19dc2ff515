"""Retrain ledger: trigger rules, merging, cooldown, daily limit, priority — on a fake clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from governance.ledger import (
    LedgerState,
    RequestQueue,
    RetrainPlanner,
    RetrainRule,
    Trigger,
    as_trigger,
    manual_trigger,
    priority_key,
)
from schemas.governance import RetrainTrigger
from tests.synthetic import drift_event

T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def trig(i: int, kind: str = "data_drift", severity: str = "high", offset: int | None = None,
         time: datetime = T0, feature: str = "x", window: str = "w") -> Trigger:
    return Trigger(event_id=f"e{i}", model_name="m", model_version="1", kind=kind, feature=feature,
                   severity=severity, time=time, offset=i if offset is None else offset,
                   window=window)


def planner(**rule: object) -> RetrainPlanner:
    r = RetrainRule(**{"cooldown": timedelta(hours=6), "daily_limit": 3,
                       "merge_window": timedelta(seconds=60), **rule})  # type: ignore[arg-type]
    return RetrainPlanner("app", lambda model: r)


def test_a_burst_in_one_batch_is_one_accepted_request_and_the_rest_merged():
    decisions, state = planner().decide([trig(i) for i in range(20)], LedgerState("m"), T0)
    assert [d.decision for d in decisions].count("accepted") == 1
    accepted = next(d for d in decisions if d.accepted)
    assert len(accepted.merged) == 20
    assert all(d.request_id == accepted.event_id for d in decisions)
    assert state.requests_today == 1 and state.last_offset == 19


def test_cooldown_suppresses_until_it_ends_and_merge_window_comes_first():
    clock = FakeClock(T0)
    p = planner()
    _, state = p.decide([trig(1)], LedgerState("m"), clock())
    merged, state = p.decide([trig(2)], state, clock.advance(seconds=30))
    assert merged[0].decision == "merged" and "merged into request" in merged[0].reason
    suppressed, state = p.decide([trig(3)], state, clock.advance(hours=1))
    assert suppressed[0].decision == "suppressed_cooldown"
    assert suppressed[0].cooldown_until == T0 + timedelta(hours=6)
    assert "cooldown" in suppressed[0].reason
    again, state = p.decide([trig(4)], state, clock.advance(hours=5, minutes=1))
    assert again[0].decision == "accepted" and state.requests_today == 2


def test_daily_limit_counts_per_utc_day_and_resets_at_midnight():
    clock = FakeClock(datetime(2026, 11, 27, 20, 0, tzinfo=UTC))
    p = planner(cooldown=timedelta(0), merge_window=timedelta(0), daily_limit=3)
    state = LedgerState("m")
    outcomes = []
    for i in range(5):
        decisions, state = p.decide([trig(i)], state, clock.advance(minutes=10))
        outcomes.append(decisions[0].decision)
    assert outcomes == ["accepted"] * 3 + ["suppressed_daily_limit"] * 2
    # 23:59 UTC: still the same day
    clock.now = datetime(2026, 11, 27, 23, 59, tzinfo=UTC)
    decisions, state = p.decide([trig(10)], state, clock())
    assert decisions[0].decision == "suppressed_daily_limit"
    assert "3 request(s) already accepted on 2026-11-27" in decisions[0].reason
    # a clock in another zone still counts UTC days: 00:30 UTC is 01:30 in UTC+1
    clock.now = datetime(2026, 11, 28, 1, 30, tzinfo=timezone_plus_one())
    decisions, state = p.decide([trig(11)], state, clock())
    assert decisions[0].decision == "accepted" and state.day == "2026-11-28"
    assert state.requests_today == 1


def timezone_plus_one():
    from datetime import timezone

    return timezone(timedelta(hours=1))


def test_priority_performance_drop_then_model_drift_then_data_drift_then_severity_then_age():
    older = T0 - timedelta(minutes=5)
    triggers = [trig(1, "data_drift", "high"), trig(2, "model_drift", "low"),
                trig(3, "performance_drop", "medium"), trig(4, "performance_drop", "high"),
                trig(5, "performance_drop", "high", time=older)]
    assert [t.event_id for t in sorted(triggers, key=priority_key)] == ["e5", "e4", "e3", "e2", "e1"]
    decisions, _ = planner().decide(triggers, LedgerState("m"), T0)
    accepted = [d for d in decisions if d.accepted]
    assert [d.trigger.event_id for d in accepted] == ["e5"]
    queue = RequestQueue((t, t.event_id) for t in triggers)
    assert queue.drain() == ["e5", "e4", "e3", "e2", "e1"]


def test_replayed_triggers_are_skipped_and_ids_are_deterministic():
    p = planner()
    first, state = p.decide([trig(1), trig(2)], LedgerState("m"), T0)
    assert p.decide([trig(1), trig(2)], state, T0 + timedelta(seconds=1))[0] == []
    again, _ = p.decide([trig(1), trig(2)], LedgerState("m"), T0 + timedelta(seconds=5))
    assert [d.event_id for d in again] == [d.event_id for d in first]


def test_min_drifted_features_waits_for_enough_features_of_one_window():
    p = planner(min_drifted_features=2)
    decisions, state = p.decide([trig(1, feature="a", window="w1")], LedgerState("m"), T0)
    assert decisions[0].decision == "below_threshold" and "1 of the 2" in decisions[0].reason
    decisions, state = p.decide([trig(2, feature="b", window="w1")], state, T0)
    assert decisions[0].decision == "accepted"
    # performance drops do not wait for features
    decisions, _ = p.decide([trig(3, kind="performance_drop", window="w2")], LedgerState("m"), T0)
    assert decisions[0].decision == "accepted"


def test_trigger_rules_need_a_fired_alert_enough_severity_and_an_enabled_kind():
    rule = RetrainRule(min_severity="medium", triggers=frozenset({"data_drift", "performance_drop"}))
    fired = drift_event("m", "x", severity="medium", when=T0)
    assert as_trigger(fired, rule) is not None
    assert as_trigger(drift_event("m", "x", severity="low", when=T0), rule) is None
    assert as_trigger(drift_event("m", "x", alert="ongoing", when=T0), rule) is None
    assert as_trigger(drift_event("m", "x", kind="model_drift", when=T0), rule) is None
    assert as_trigger(drift_event("m", "x", kind="recovered", when=T0), rule) is None
    perf = as_trigger(drift_event("m", "acc", kind="performance_drop", severity="low", when=T0), rule)
    assert perf is not None and perf.priority == 31


def test_ledger_state_round_trips_and_rules_validate():
    state = LedgerState("m", last_offset=4, last_accepted_at=T0.isoformat(), day="2026-11-27",
                        requests_today=2, pending={"w": ["a"]})
    assert LedgerState.decode(state.encode()) == state
    rule = RetrainRule.from_values({"cooldown_hours": 1, "daily_limit": 3, "merge_seconds": 5},
                                   {"daily_limit": 1})
    assert rule.daily_limit == 1 and rule.cooldown == timedelta(hours=1)
    with pytest.raises(ValueError):
        RetrainRule(triggers=frozenset({"nonsense"}))
    with pytest.raises(ValueError):
        planner().decide([trig(1)], LedgerState("m"), datetime(2026, 1, 1))  # no zone


def manual(i: int, offset: int | None = None, by: str = "ops-key", note: str = "new data",
           time: datetime = T0) -> Trigger:
    record = RetrainTrigger(event_id=f"00000000-0000-4000-8000-{i:012d}", schema_version=1,
                            model_name="m", model_version="1", timestamp=time.isoformat(),
                            kind="manual", requested_by=by, reason=note)
    return manual_trigger(record, offset=i if offset is None else offset)


def test_a_manual_trigger_is_accepted_with_its_author_and_outranks_every_drift_kind():
    decisions, state = planner().decide([trig(1, "performance_drop", "high"), manual(2),
                                         trig(3, "model_drift")], LedgerState("m"), T0)
    accepted = [d for d in decisions if d.accepted]
    assert [d.trigger.kind for d in accepted] == ["manual"]
    assert accepted[0].reason.startswith("manual retrain requested by ops-key (new data); "
                                         "request 1 of 3 today; 2 concurrent trigger(s) merged")
    merged = [d for d in decisions if not d.accepted]
    assert {d.decision for d in merged} == {"merged"}
    assert all("manual retrain requested by ops-key" in d.reason for d in merged)
    assert manual(9).priority > trig(9, "performance_drop", "high").priority
    assert [t.kind for t in sorted([trig(1, "performance_drop"), manual(2)], key=priority_key)] \
        == ["manual", "performance_drop"]
    assert state.requests_today == 1


def test_a_manual_trigger_gets_no_exemption_from_merge_window_cooldown_or_daily_limit():
    clock = FakeClock(T0)
    p = planner()
    _, state = p.decide([trig(1)], LedgerState("m"), clock())
    merged, state = p.decide([manual(1)], state, clock.advance(seconds=30))
    assert merged[0].decision == "merged"
    suppressed, state = p.decide([manual(2)], state, clock.advance(hours=1))
    assert suppressed[0].decision == "suppressed_cooldown" and "cooldown" in suppressed[0].reason
    assert suppressed[0].cooldown_until == T0 + timedelta(hours=6)

    limited = planner(cooldown=timedelta(0), merge_window=timedelta(0), daily_limit=1)
    _, state = limited.decide([trig(1)], LedgerState("m"), T0)
    decisions, _ = limited.decide([manual(1)], state, T0 + timedelta(minutes=1))
    assert decisions[0].decision == "suppressed_daily_limit"


def test_manual_and_drift_offsets_are_tracked_apart_so_replays_of_either_are_skipped():
    p = planner(cooldown=timedelta(0), merge_window=timedelta(0), daily_limit=10)
    decisions, state = p.decide([manual(1, offset=50)], LedgerState("m"), T0)
    assert decisions[0].accepted and (state.last_manual_offset, state.last_offset) == (50, -1)
    # a drift event at a lower offset of its own topic is not mistaken for a replay
    decisions, state = p.decide([trig(7, offset=5)], state, T0 + timedelta(minutes=1))
    assert decisions[0].accepted and (state.last_manual_offset, state.last_offset) == (50, 5)
    assert p.decide([manual(1, offset=50), trig(7, offset=5)], state, T0)[0] == []
    # a state written before manual triggers existed still decodes
    old = LedgerState.decode(b'{"model": "m", "last_offset": 3}')
    assert old.last_manual_offset == -1


def test_manual_is_not_a_switchable_drift_trigger():
    with pytest.raises(ValueError, match="manual"):
        RetrainRule(triggers=frozenset({"manual"}))

"""De-duplication keys as the monitors really build them: a re-fire of one alert shares its
key (so the notifier merges it within the window), a new model version never does."""

from __future__ import annotations

from cli.traffic import TrafficSpec
from drift.hygiene import AlertPolicy
from governance.alerts import MAX_KEY, alert_key, render
from governance.messages import retrain_alert
from monitors.drift_monitor import FeatureMonitor, MonitorConfig
from monitors.performance import PerformanceConfig, PerformanceMonitor
from tests.unit.monitors.test_drift_monitor import DictStore, observations
from tests.unit.monitors.test_performance import pairs

CONFIG = MonitorConfig(reference_size=200, window_size=200, detectors=(),
                       alert_policy=AlertPolicy(k=1, m=1))


def fired_alerts(version: str) -> list:
    """income drifts in [400, 600), is back in [600, 1000), drifts again from 1000."""
    first = TrafficSpec(model_version=version, shift_at=400, shift_until=600, seed=11)
    again = TrafficSpec(model_version=version, shift_at=0, seed=12)
    obs = observations(first, 1000) + observations(again, 400, first=1000, offset0=1000)
    monitor = FeatureMonitor(DictStore(), CONFIG)
    alerts = []
    for i in range(0, len(obs), 100):
        alerts += map(render, monitor.apply("credit-risk", version, obs[i:i + 100]).alerts)
    return alerts


def test_a_refire_of_the_same_features_shares_the_key_and_a_new_version_does_not():
    v1 = fired_alerts("1")
    fired = [a for a in v1 if a.kind == "drift_alert" and a.details["features"] == ["income"]]
    recovered = [a for a in v1 if a.kind == "recovered" and a.details["features"] == ["income"]]
    assert len(fired) == 2 and recovered
    assert fired[0].event_id != fired[1].event_id  # two alerts ...
    assert fired[0].dedup_key == fired[1].dedup_key  # ... one notification within the window
    assert fired[0].details["window_start_seq"] != fired[1].details["window_start_seq"]
    assert recovered[0].dedup_key != fired[0].dedup_key  # a recovery is news of its own
    assert fired[0].dedup_key == alert_key("credit-risk", "1", "data_drift:fired", ["income"])
    v2 = [a for a in fired_alerts("2") if a.kind == "drift_alert"
          and a.details["features"] == ["income"]]
    # the same window sequence numbers in version 2 must never be suppressed by version 1's
    assert v2[0].details["window_start_seq"] == fired[0].details["window_start_seq"]
    assert v2[0].dedup_key != fired[0].dedup_key


def test_performance_drops_are_keyed_by_model_version_and_metrics():
    def drops(version: str) -> list:
        monitor = PerformanceMonitor(DictStore(), PerformanceConfig(
            window_size=200, alert_policy=AlertPolicy(k=1, m=1)))
        stream = (pairs(400, 10, version=version) + pairs(200, 4, start=400, version=version)
                  + pairs(200, 10, start=600, version=version)
                  + pairs(200, 4, start=800, version=version))
        alerts = []
        for i in range(0, len(stream), 100):
            alerts += map(render, monitor.apply("m", version, stream[i:i + 100]).alerts)
        return [a for a in alerts if a.kind == "performance_drop"]

    v1, v2 = drops("1"), drops("2")
    assert len(v1) == 2 and v1[0].event_id != v1[1].event_id
    assert v1[0].dedup_key == v1[1].dedup_key
    assert v1[0].dedup_key.startswith("m|1|performance_drop:fired|")
    assert v2[0].dedup_key != v1[0].dedup_key


def test_keys_are_order_free_and_bounded():
    assert alert_key("m", "1", "data_drift:fired", ["b", "a"]) == \
        alert_key("m", "1", "data_drift:fired", ["a", "b", "a"])
    many = [f"feature_{i}" for i in range(400)]
    key = alert_key("m", "1", "data_drift:fired", many)
    assert len(key) <= MAX_KEY and key != alert_key("m", "1", "data_drift:fired", many[1:])


def test_retrain_alerts_use_the_same_builder():
    from datetime import UTC, datetime

    from governance.ledger import Decision, Trigger

    trigger = Trigger(event_id="e1", model_name="m", model_version="3", kind="data_drift",
                      feature="x", severity="high", time=datetime(2026, 1, 1, tzinfo=UTC))
    decision = Decision(event_id="00000000-0000-0000-0000-000000000001", trigger=trigger,
                        decision="accepted", reason="r",
                        request_id="00000000-0000-0000-0000-000000000002", requests_today=1,
                        cooldown_until=None)
    from governance.messages import retrain_request

    alert = retrain_alert(retrain_request(decision, "m", datetime(2026, 1, 1, tzinfo=UTC)))
    assert alert.dedup_key == alert_key("m", "3", "retrain:request",
                                        ["00000000-0000-0000-0000-000000000002"])

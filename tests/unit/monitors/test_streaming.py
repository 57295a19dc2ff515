"""Issue 4 logic without Kafka: hygiene, time windows, detectors, references, versions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

import drift
from cli.traffic import TrafficSpec, feature_events
from drift.detectors import OnlineDetectors
from governance.alerts import render
from monitors.buffered import BufferedStore
from monitors.drift_monitor import DecodedCache, FeatureMonitor, MonitorConfig, Observation
from monitors.state import ModelHead, head_key
from monitors.versions import touch
from tests.unit.monitors.test_drift_monitor import DictStore, observations

CONFIG = MonitorConfig(reference_size=300, window_size=300, detectors=())


def window_events(out_events):
    return [e for e in out_events if e.test in ("ks", "chi2")]


def run_all(monitor, obs, batch=100, model="m", version="1"):
    events, alerts = [], []
    for i in range(0, len(obs), batch):
        out = monitor.apply(model, version, obs[i:i + batch])
        events += out.drift_events
        alerts += map(render, out.alerts)
    return events, alerts


def test_alert_fires_once_while_the_shift_lasts_and_recovery_follows():
    # reference 0..299; windows of 300; shift from 900 to 2100, then back
    spec = TrafficSpec(numeric=("income", "age"), categorical=("channel",), shifted=("income",),
                       mass_shifted=("channel",), shift_at=900, shift_until=2100,
                       shift_sigma=0.5, mass_shift=0.15, seed=21)
    events, alerts = run_all(FeatureMonitor(DictStore(), CONFIG), observations(spec, 3300))
    for feature in ("income", "channel"):
        states = [(e.window_start_seq, e.alert) for e in window_events(events)
                  if e.feature == feature]
        fired = [s for s, a in states if a == "fired"]
        assert len(fired) == 1, states
        assert 900 <= fired[0] <= 900 + 300, states  # within 2 windows of the change
        recovered = [s for s, a in states if a == "recovered"]
        assert len(recovered) == 1 and recovered[0] >= 2100, states
        assert [a.kind for a in alerts if feature in a.details["features"]] == \
            ["drift_alert", "recovered"]
    assert not any(e.drifted for e in window_events(events) if e.feature == "age" and e.alert != "none")
    recovered_event = next(e for e in events if e.alert == "recovered")
    assert recovered_event.kind == "recovered"


def test_time_windows_close_on_the_watermark_and_count_late_events():
    config = MonitorConfig(reference_size=100, window_mode="time", window_seconds=60,
                           allowed_lateness_seconds=10, min_window_events=10, detectors=())
    start = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    spec = TrafficSpec(seed=5, start=start, spacing=timedelta(seconds=1))
    events = list(feature_events(spec, 400))
    obs = [Observation(offset=i, partition=0, timestamp=e["timestamp"], features=e["features"])
           for i, e in enumerate(events)]
    # one event from the first monitored minute arrives after that window closed
    late = Observation(offset=400, partition=0, timestamp=(start + timedelta(seconds=101)).isoformat(),
                       features=events[101]["features"])
    monitor = FeatureMonitor(DictStore(), config)
    out_events, _ = run_all(monitor, [*obs, late], batch=50)
    tested = window_events(out_events)
    # reference = seconds 0..99; the watermark (12:06:39 - 10 s) has closed the windows of
    # minutes 12:01 (from 12:01:40, where monitoring began) to 12:05; 12:06 is still open
    starts = sorted({e.window_start_time for e in tested})
    assert starts == [(start + timedelta(seconds=s)).isoformat()
                      for s in (100, 120, 180, 240, 300)]
    assert len(tested) == 5 * 3
    sizes = sorted({(e.window_start_seq, e.current_size) for e in tested if e.feature == "age"})
    assert [n for _, n in sizes] == [20, 60, 60, 60, 60]
    head = ModelHead.decode(monitor.store.get(head_key("f", "m", "1")))
    assert head.late_events == 1 and list(head.windows) == [str(int((start + timedelta(
        seconds=360) - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds() // 60))]
    # the late event is reported with the next window that closes
    more = [Observation(offset=401 + i, partition=0,
                        timestamp=(start + timedelta(seconds=400 + i)).isoformat(),
                        features=events[i]["features"]) for i in range(60)]
    later = window_events(monitor.apply("m", "1", more).drift_events)
    assert later and all(e.late_events == 1 for e in later)


def test_detector_state_resumes_after_a_restart_with_the_same_detection_index():
    config = MonitorConfig(reference_size=300, window_size=300, detectors=("adwin", "page_hinkley"))
    spec = TrafficSpec(shift_at=1500, shift_sigma=1.0, seed=13)
    obs = observations(spec, 3000)
    uninterrupted, _ = run_all(FeatureMonitor(DictStore(), config), obs, batch=100)
    # the worker dies after event 1200; a new one starts from the changelog's contents
    store = DictStore()
    first, _ = run_all(FeatureMonitor(store, config), obs[:1200], batch=100)
    restored = DictStore()
    restored.data = dict(store.data)
    second, _ = run_all(FeatureMonitor(restored, config), obs[1100:], batch=100)  # redelivery too
    detections = [(e.feature, e.test, e.statistic, e.window_start_seq) for e in uninterrupted
                  if e.test in ("adwin", "page_hinkley")]
    resumed = [(e.feature, e.test, e.statistic, e.window_start_seq) for e in first + second
               if e.test in ("adwin", "page_hinkley")]
    assert detections and resumed == detections
    assert any(f == "income" and seq >= 1500 for f, _, _, seq in detections)


def test_a_batch_that_fails_after_feeding_the_detectors_is_retried_from_the_stored_state(
        monkeypatch):
    # decoded detectors stay cached between batches; a batch that dies halfway must not leave
    # the cache holding detectors that already saw its events
    config = MonitorConfig(reference_size=300, window_size=300, detectors=("adwin", "page_hinkley"))
    spec = TrafficSpec(shift_at=1500, shift_sigma=1.0, seed=17)
    obs = observations(spec, 3000)
    uninterrupted, _ = run_all(FeatureMonitor(DictStore(), config), obs, batch=100)

    store = DictStore()
    first, _ = run_all(FeatureMonitor(store, config), obs[:1400], batch=100)
    before = dict(store.data)
    real_dumps = OnlineDetectors.dumps

    def failing_dumps(self):
        raise OSError("disk full")

    monkeypatch.setattr(OnlineDetectors, "dumps", failing_dumps)
    with pytest.raises(OSError):
        FeatureMonitor(store, config).apply("m", "1", obs[1400:1600])
    monkeypatch.setattr(OnlineDetectors, "dumps", real_dumps)
    store.data = before  # the failed batch's writes are discarded, as a transaction would be
    second, _ = run_all(FeatureMonitor(store, config), obs[1400:], batch=100)

    def detections(events):
        return [(e.feature, e.test, e.statistic, e.window_start_seq) for e in events
                if e.test in ("adwin", "page_hinkley")]

    assert detections(uninterrupted)
    assert detections(first + second) == detections(uninterrupted)


def test_decoded_cache_answers_only_for_the_bytes_it_decoded_and_stays_bounded():
    cache = DecodedCache(2)
    cache.put(b"a", b"raw-1", "one")
    assert cache.get(b"a", b"raw-1") == "one"
    assert cache.get(b"a", b"".join([b"raw-", b"1"])) == "one"  # equal bytes, another object
    assert cache.get(b"a", b"raw-2") is None  # the store moved on: decode again
    assert cache.take(b"a", b"raw-1") == "one"
    assert cache.get(b"a", b"raw-1") is None  # taken for mutation, no longer served
    for key in (b"x", b"y", b"z"):
        cache.put(key, b"r", key)
    assert cache.get(b"x", b"r") is None and cache.get(b"z", b"r") == b"z"


def test_explicit_reference_replaces_the_collected_one_and_applies_once():
    spec = TrafficSpec(seed=3)
    store = DictStore()
    monitor = FeatureMonitor(store, CONFIG)
    monitor.apply("m", "1", observations(spec, 100))
    shifted = TrafficSpec(seed=4, shift_at=0, shift_sigma=2.0)
    values = list(feature_events(shifted, 2000))
    profiles = {
        "income": drift.build_profile([e["features"]["income"] for e in values], "numeric"),
        "age": drift.build_profile([e["features"]["age"] for e in values], "numeric"),
        "channel": drift.build_profile([e["features"]["channel"] for e in values], "categorical"),
    }
    assert monitor.set_reference("m", "1", 0, profiles, "ref-1") is True
    assert monitor.set_reference("m", "1", 0, profiles, "ref-1") is False  # replayed
    head = ModelHead.decode(store.get(head_key("f", "m", "1")))
    assert head.phase == "monitoring" and head.kinds["channel"] == "categorical"
    events, _ = run_all(monitor, observations(spec, 600, first=100, offset0=100))
    income = [e for e in window_events(events) if e.feature == "income"]
    assert income and all(e.drifted for e in income)  # unshifted traffic vs a shifted reference
    assert not [k for k in store.data if k.startswith(b"fc|m|1|-1|")]  # collected chunks gone


def test_a_new_version_expires_the_old_one_in_event_time():
    store = DictStore()
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    ttl = timedelta(hours=24)
    assert touch(store, "f", "m", "1", t0.isoformat(), ttl) == []
    assert touch(store, "f", "m", "2", (t0 + timedelta(hours=2)).isoformat(), ttl) == []
    assert touch(store, "f", "m", "2", (t0 + timedelta(hours=25)).isoformat(), ttl) == ["1"]
    assert touch(store, "f", "m", "2", (t0 + timedelta(hours=26)).isoformat(), ttl) == []
    monitor = FeatureMonitor(store, CONFIG)
    run_all(monitor, observations(TrafficSpec(seed=1), 700), version="1")
    monitor.forget("m", "1")
    assert not [k for k in store.data if b"|m|1" in k]


def test_buffered_store_writes_nothing_until_commit():
    inner = DictStore()
    inner.set(b"a", b"1")
    buffered = BufferedStore(inner)
    buffered.set(b"b", b"2")
    buffered.delete(b"a")
    assert buffered.get(b"a") is None and buffered.get(b"b") == b"2"
    assert inner.data == {b"a": b"1"}
    assert buffered.commit() == 2
    assert inner.data == {b"b": b"2"}


def test_model_drift_publishes_confidence_metrics():
    config = MonitorConfig(namespace="p", kind="model_drift", reference_size=100,
                           window_size=100, detectors=(), metric_features=("confidence",))
    obs = [Observation(offset=i, partition=0, timestamp=f"2026-11-26T00:00:{i % 60:02d}+00:00",
                       features={"prediction": "yes" if i % 3 else "no",
                                 "confidence": 0.6 + (i % 10) / 50})
           for i in range(300)]
    out = FeatureMonitor(DictStore(), config).apply("m", "1", obs)
    assert {m.metric for m in out.metrics} == {"confidence_mean", "confidence_var"}
    assert all(e.kind == "model_drift" for e in out.drift_events)
    assert len(out.metrics) == 4  # two closed windows

"""Detector state that cannot be read (another format, another River) is started afresh
with a warning and a count, never a failure of the traffic it belongs to."""

from __future__ import annotations

from cli.traffic import TrafficSpec
from monitors import detector_state
from monitors.drift_monitor import FeatureMonitor, MonitorConfig
from monitors.state import ModelHead, head_key
from tests.unit.monitors.test_drift_monitor import DictStore, observations

CONFIG = MonitorConfig(reference_size=200, window_size=200, detectors=("adwin", "page_hinkley"))


def warmed(store: DictStore) -> list:
    obs = observations(TrafficSpec(seed=4), 400)
    monitor = FeatureMonitor(store, CONFIG)
    for i in range(0, 400, 100):
        monitor.apply("m", "1", obs[i:i + 100])
    # what comes next: 300 more as before, then a 3-sigma shift of income
    return observations(TrafficSpec(seed=4, shift_at=700, shift_sigma=3.0), 900, first=400,
                        offset0=400)


def corrupt(store: DictStore, raw: bytes) -> None:
    key = head_key("f", "m", "1")
    head = ModelHead.decode(store.get(key))
    head.detectors = raw
    store.set(key, head.encode())


def test_state_is_written_with_a_format_tag():
    store = DictStore()
    warmed(store)
    assert ModelHead.decode(store.get(head_key("f", "m", "1"))).detectors.startswith(
        detector_state.FORMAT)


def test_unreadable_or_unknown_state_resets_the_detectors_and_monitoring_goes_on(caplog):
    for raw in (detector_state.FORMAT + b"not a pickle", b"DLDS9\x00whatever", b"\x00junk"):
        store = DictStore()
        later = warmed(store)
        corrupt(store, raw)
        out = FeatureMonitor(store, CONFIG).apply("m", "1", later)
        assert out.detector_resets == 1, raw
        # the shifted traffic is still watched: the fresh detectors fire on it
        assert any(e.test in ("adwin", "page_hinkley") for e in out.drift_events)
        head = ModelHead.decode(store.get(head_key("f", "m", "1")))
        assert head.detectors.startswith(detector_state.FORMAT)
        # and the next batch reads what was written: no second reset
        assert FeatureMonitor(store, CONFIG).apply("m", "1", observations(
            TrafficSpec(seed=5), 50, first=1300, offset0=1300)).detector_resets == 0
    assert "starting it afresh" in caplog.text


def test_state_from_before_the_tag_still_reads():
    store = DictStore()
    later = warmed(store)
    key = head_key("f", "m", "1")
    head = ModelHead.decode(store.get(key))
    corrupt(store, head.detectors[len(detector_state.FORMAT):])  # as written before the tag
    assert FeatureMonitor(store, CONFIG).apply("m", "1", later[:50]).detector_resets == 0

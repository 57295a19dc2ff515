from __future__ import annotations

import struct

import numpy as np
import orjson
import pytest

from cli.traffic import TrafficSpec, feature_events
from monitors import drift_monitor
from monitors.drift_monitor import FeatureMonitor, MonitorConfig, Observation, category_text
from monitors.state import Chunk, ModelHead, head_key


class DictStore:
    """The StateStore protocol over a dict, counting bytes written like a changelog would."""

    def __init__(self) -> None:
        self.data: dict[bytes, bytes] = {}
        self.bytes_written = 0
        self.writes = 0

    def get(self, key):
        return self.data.get(key)

    def set(self, key, value):
        self.data[key] = value
        self.bytes_written += len(key) + len(value)
        self.writes += 1

    def delete(self, key):
        self.data.pop(key, None)
        self.writes += 1


def observations(spec: TrafficSpec, n: int, first: int = 0, offset0: int = 0):
    return [
        Observation(offset=offset0 + i, partition=0, timestamp=e["timestamp"], features=e["features"])
        for i, e in enumerate(feature_events(spec, n, first=first))
    ]


CONFIG = MonitorConfig(reference_size=200, window_size=200, detectors=())


def run(store, obs, batch=50, config=CONFIG, model="m", version="1", windows_only=True):
    monitor = FeatureMonitor(store, config)
    out = []
    for i in range(0, len(obs), batch):
        out.extend(monitor.apply(model, version, obs[i:i + batch]).drift_events)
    return [e for e in out if e.test in ("ks", "chi2")] if windows_only else out


def head_of(store, model="m", version="1"):
    return ModelHead.decode(store.get(head_key("f", model, version)))


def test_reference_then_windows_and_shift_detected():
    spec = TrafficSpec(shift_at=600, shift_sigma=1.0, seed=3)
    events = run(DictStore(), observations(spec, 1000))
    # reference 0..199, windows [200,400) [400,600) [600,800) [800,1000), 3 features each
    assert len(events) == 12
    income = [e for e in events if e.feature == "income"]
    assert [e.window_start_seq for e in income] == [200, 400, 600, 800]
    assert [e.drifted for e in income] == [False, False, True, True]
    assert all(e.test == "ks" for e in income)
    channel = [e for e in events if e.feature == "channel"]
    assert all(e.test == "chi2" and not e.drifted for e in channel)
    assert not any(e.drifted for e in events if e.feature == "age")
    first = income[2]
    assert first.window_start_offset == 600 and first.window_end_offset == 799
    assert first.reference_size == 200 and first.current_size == 200
    assert first.severity in ("medium", "high") and first.effect >= 0.1


def test_batch_boundaries_do_not_change_results():
    spec = TrafficSpec(shift_at=500, seed=5)
    obs = observations(spec, 900)
    a = run(DictStore(), obs, batch=7)
    b = run(DictStore(), obs, batch=900)
    assert [(e.event_id, e.statistic, e.p_value, e.drifted) for e in a] == \
        [(e.event_id, e.statistic, e.p_value, e.drifted) for e in b]


def test_redelivered_events_are_not_counted_twice():
    spec = TrafficSpec(seed=9)
    obs = observations(spec, 700)
    store = DictStore()
    monitor = FeatureMonitor(store, CONFIG)
    events = monitor.apply("m", "1", obs[:350]).drift_events
    # a crash after the state was written but before the offset commit: 300..349 come again
    events += monitor.apply("m", "1", obs[300:700]).drift_events
    head = head_of(store)
    assert head.seq == 700 and head.last_offset == 699
    assert [e.window_end_seq for e in events if e.feature == "age"] == [400, 600]
    assert events == run(DictStore(), obs, batch=350)


def test_replay_after_a_crash_before_the_head_was_written_gives_the_same_results():
    spec = TrafficSpec(shift_at=300, seed=2)
    obs = observations(spec, 600)
    reference = run(DictStore(), obs, batch=100)

    store = DictStore()
    monitor = FeatureMonitor(store, CONFIG)
    first = monitor.apply("m", "1", obs[:300]).drift_events
    before = dict(store.data)
    # a batch that closes a window, then the process dies before its head reaches the log:
    second = monitor.apply("m", "1", obs[300:450]).drift_events
    crashed = dict(before)
    for key, value in store.data.items():
        if not key.startswith(b"fh|"):
            crashed[key] = value
    replayed = FeatureMonitor(DictStore(), CONFIG)
    replayed.store.data = crashed
    again = (replayed.apply("m", "1", obs[300:450]).drift_events
             + replayed.apply("m", "1", obs[450:600]).drift_events)
    assert first + again == reference
    assert second == again[: len(second)]


def test_state_stays_bounded_and_writes_scale_with_events_not_windows():
    spec = TrafficSpec(seed=4)
    store = DictStore()
    monitor = FeatureMonitor(store, CONFIG)
    sizes = []
    for start in range(0, 4000, 100):
        monitor.apply("m", "1", observations(spec, 100, first=start, offset0=start))
        sizes.append(sum(len(v) for v in store.data.values()))
    # state after 40 batches is no larger than after the first window of monitoring
    assert max(sizes[10:]) <= max(sizes[:10]) * 1.5
    # a batch writes its own values, not the whole window: ~ 3 features x 8-ish bytes per event
    per_event = store.bytes_written / 4000
    assert per_event < 200, per_event


def test_stale_chunks_are_deleted_after_the_window_closes():
    spec = TrafficSpec(seed=8)
    store = DictStore()
    run(store, observations(spec, 650), batch=50)
    chunks = [k for k in store.data if k.startswith(b"fc|")]
    # only the open window's chunks remain (600..649 -> 1 chunk)
    assert len(chunks) == 1


def test_new_version_gets_its_own_reference():
    store = DictStore()
    spec1 = TrafficSpec(model_version="1", seed=1)
    spec2 = TrafficSpec(model_version="2", seed=1, shift_at=0, shift_sigma=3.0)
    run(store, observations(spec1, 400), version="1")
    events = run(store, observations(spec2, 400, offset0=400), version="2")
    # version 2 is shifted from its first event, so against its own reference it is still
    assert events and not any(e.drifted for e in events)
    assert all(e.model_version == "2" for e in events)


def test_kinds_are_inferred_and_mismatches_counted():
    base = [{"x": float(i % 7), "c": "a" if i % 2 else "b", "mix": i if i < 100 else "s"}
            for i in range(200)]
    obs = [Observation(offset=i, partition=0, timestamp="2026-11-26T00:00:00+00:00", features=f)
           for i, f in enumerate(base)]
    store = DictStore()
    monitor = FeatureMonitor(store, CONFIG)
    monitor.apply("m", "1", obs)
    head = head_of(store)
    assert head.kinds == {"x": "numeric", "c": "categorical", "mix": "categorical"}
    later = [Observation(offset=200 + i, partition=0, timestamp="2026-11-26T00:00:00+00:00",
                         features={"x": "oops", "c": 1.0, "mix": 3.0, "new": 1})
             for i in range(10)]
    monitor.apply("m", "1", later)
    head = head_of(store)
    assert head.type_mismatches == 10 and head.unknown_features == 10


@pytest.mark.parametrize(("value", "text"), [
    (None, None), (True, "true"), (3.0, "3"), (2.5, "2.5"), ("web", "web"), (1e300, "1e+300"),
])
def test_category_text(value, text):
    assert category_text(value) == text


def test_chunk_codec_round_trip():
    chunk = Chunk(numeric={"a": np.array([1.0, np.nan, 3.5]), "b": np.array([0.0, 1.0, 2.0])},
                  categorical={"c": ["x", None, "y"]})
    again = Chunk.decode(chunk.encode())
    assert again.size == 3
    np.testing.assert_array_equal(again.numeric["a"], chunk.numeric["a"])
    np.testing.assert_array_equal(again.numeric["b"], chunk.numeric["b"])
    assert again.categorical == {"c": ["x", None, "y"]}


def test_a_rekeyed_copy_sent_twice_is_counted_once():
    spec = TrafficSpec(seed=8)
    events = list(feature_events(spec, 700))
    # events 0..399 arrive keyed right; 400..699 were re-keyed from partition 3 (offsets 50..)
    first = [Observation(offset=i, partition=0, timestamp=e["timestamp"], features=e["features"],
                         origin=(3, 50 + i - 400) if i >= 400 else None)
             for i, e in enumerate(events[:550])]
    store = DictStore()
    monitor = FeatureMonitor(store, CONFIG)
    out = monitor.apply("m", "1", first).drift_events
    # the worker that re-keyed them died before committing partition 3: originals 100..149
    # (copies of events 450..549) come again and are re-sent as new copies at new offsets,
    # followed by the rest
    again = [Observation(offset=550 + j, partition=0, timestamp=events[450 + j]["timestamp"],
                         features=events[450 + j]["features"], origin=(3, 100 + j))
             for j in range(100)]
    rest = [Observation(offset=650 + j, partition=0, timestamp=events[550 + j]["timestamp"],
                        features=events[550 + j]["features"], origin=(3, 200 + j))
            for j in range(150)]
    out += monitor.apply("m", "1", again + rest).drift_events
    head = head_of(store)
    assert head.seq == 700 and head.duplicate_copies == 100
    assert head.rerouted == {"3": 349}
    plain = [Observation(offset=i, partition=0, timestamp=e["timestamp"], features=e["features"])
             for i, e in enumerate(events)]

    def tested(events):  # the same values in the same windows (offsets differ, of course)
        return [(e.feature, e.window_start_seq, e.window_end_seq, e.statistic, e.p_value)
                for e in events if e.test in ("ks", "chi2")]

    assert tested(out) == tested(run(DictStore(), plain, batch=700))


def test_a_head_written_before_rekeying_was_tracked_still_decodes():
    head = ModelHead(model="m", version="1", partition=0, seq=5)
    raw = head.encode()
    (length,) = struct.unpack_from("<I", raw)
    data = orjson.loads(raw[4:4 + length])
    del data["rerouted"], data["duplicate_copies"]
    old = orjson.dumps(data)
    decoded = ModelHead.decode(struct.pack("<I", len(old)) + old + raw[4 + length:])
    assert decoded.seq == 5 and decoded.rerouted == {} and decoded.duplicate_copies == 0


def test_online_detectors_are_calibrated_and_publish_alarms_as_what_they_are():
    config = MonitorConfig(reference_size=1000, window_size=1000,
                           detectors=("adwin", "page_hinkley"))
    still = run(DictStore(), observations(TrafficSpec(seed=5), 21_000), batch=500,
                config=config, windows_only=False)
    assert [e for e in still if e.kind == "detector_alarm"] == []  # 20,000 still events each
    shifted = run(DictStore(), observations(TrafficSpec(shift_at=5000, shift_sigma=0.5, seed=6),
                                            7000), batch=500, config=config, windows_only=False)
    alarms = [e for e in shifted if e.kind == "detector_alarm"]
    assert {(e.feature, e.test) for e in alarms} == {("income", "adwin"),
                                                      ("income", "page_hinkley")}
    for alarm in alarms:
        # the event it fired at, its statistic and the threshold it crossed
        assert 5000 <= alarm.window_start_seq < 7000 and alarm.window_end_seq == alarm.window_start_seq + 1
        assert alarm.tests["threshold"]["statistic"] > 0 and alarm.alert == "none"
        assert alarm.tests["index"]["statistic"] == alarm.current_size - 1
    ph = next(e for e in alarms if e.test == "page_hinkley")
    assert ph.statistic > ph.tests["threshold"]["statistic"]
    # window results keep their own kind
    assert {e.kind for e in shifted if e.test in ("ks", "chi2")} == {"data_drift"}


def test_a_wide_models_batch_fits_the_changelogs_message_limit() -> None:
    """300 features x 2,000 events in one batch: no table value the broker would refuse
    (1 MB), and the window's tests see every event."""
    rng = np.random.default_rng(9)
    names = [f"x{i}" for i in range(300)]

    def batch(first, n):
        return [Observation(offset=first + i, partition=0,
                            timestamp=f"2026-01-01T00:{(first + i) // 3600 % 60:02d}:"
                                      f"{(first + i) // 60 % 60:02d}.{(first + i) % 60:06d}+00:00",
                            features=dict(zip(names, rng.normal(size=300).tolist(), strict=True)))
                for i in range(n)]

    store = DictStore()
    monitor = FeatureMonitor(store, MonitorConfig(reference_size=2000, window_size=2000,
                                                  detectors=()))
    monitor.apply("wide", "1", batch(0, 2000))
    out = monitor.apply("wide", "1", batch(2000, 2000))
    assert max(len(v) for v in store.data.values()) < 1_000_000
    ks = [e for e in out.drift_events if e.test == "ks"]
    assert len(ks) == 300 and {e.current_size for e in ks} == {2000}
    assert sum(k.startswith(b"fr|wide|1|") for k in store.data) > 1  # the reference in pieces
    third = batch(4000, 2000)
    warm = DictStore()
    warm.data = dict(store.data)
    expected = FeatureMonitor(warm, monitor.config).apply("wide", "1", third)
    drift_monitor._REFERENCES._items.clear()  # a worker that recovered the table: read back
    again = FeatureMonitor(store, monitor.config).apply("wide", "1", third)
    assert ([(e.feature, e.statistic, e.p_value) for e in again.drift_events]
            == [(e.feature, e.statistic, e.p_value) for e in expected.drift_events])
    assert len(again.drift_events) >= 300
    monitor.forget("wide", "1")
    assert not store.data  # every piece goes with the version

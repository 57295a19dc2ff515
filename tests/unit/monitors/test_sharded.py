"""A sharded model's reducer: the monitor fed every shard's events, partition by partition,
decides as the unsharded monitor does on the same events — exactly for time windows (closed on
the merged watermark) — counts each event once when a shard's batch comes twice, and closes
count windows on the summed count."""

from __future__ import annotations

import numpy as np

from cli.traffic import TrafficSpec, feature_events
from monitors.drift_monitor import FeatureMonitor, MonitorConfig, Observation
from streams.shards import Partial, sampled, shard_of
from tests.unit.monitors.test_drift_monitor import DictStore, head_of

SPEC = TrafficSpec(numeric=("x", "y"), categorical=("c",), shifted=("x",), shift_at=2400,
                   shift_sigma=0.6, seed=11)
TIME = dict(reference_size=400, window_mode="time", window_seconds=40.0,
            allowed_lateness_seconds=0.0, detectors=())


def events(n=4000):
    return list(feature_events(SPEC, n))


def single(evs):
    return [Observation(offset=i, partition=0, timestamp=e["timestamp"], features=e["features"])
            for i, e in enumerate(evs)]


def sharded(evs, shards=2):
    """Each event on its shard's partition (offsets per partition), as a shard sees them."""
    parts: dict[int, list[Observation]] = {p: [] for p in range(shards)}
    for e in evs:
        p = shard_of(e["event_id"], shards)
        parts[p].append(Observation(offset=len(parts[p]), partition=p, timestamp=e["timestamp"],
                                    features=e["features"]))
    return parts


def merged_batches(parts, batch, rng):
    """Batches as a reducer gets them: each shard's events in its order, shards interleaved
    in chunks of random sizes (whoever published first)."""
    cursors = dict.fromkeys(parts, 0)
    out = []
    while any(cursors[p] < len(parts[p]) for p in parts):
        p = int(rng.choice([p for p in parts if cursors[p] < len(parts[p])]))
        take = int(rng.integers(1, batch))
        out.append(parts[p][cursors[p]:cursors[p] + take])
        cursors[p] += take
    return out


def decisions(out):
    return sorted((e.feature, e.window_start_time, e.window_end_time, e.current_size,
                   round(e.statistic, 12), e.drifted, e.alert) for e in out
                  if e.test in ("ks", "chi2"))


def test_time_windows_sharded_decide_as_unsharded_exactly() -> None:
    evs = events()
    # the same reference both ways: the first 400 events, before any shard runs ahead
    reference, rest = evs[:400], evs[400:]
    plain = FeatureMonitor(DictStore(), MonitorConfig(**TIME))
    out_plain = []
    obs = single(evs)
    for i in range(0, len(obs), 100):
        out_plain.extend(plain.apply("m", "1", obs[i:i + 100]).drift_events)

    store = DictStore()
    monitor = FeatureMonitor(store, MonitorConfig(**TIME, shard_partitions=frozenset({0, 1})))
    parts = sharded(reference)
    out = []
    for p in parts:  # the reference, shard by shard
        out.extend(monitor.apply("m", "1", parts[p]).drift_events)
    assert head_of(store).phase == "monitoring"
    later = sharded(rest)
    for p in later:  # offsets go on after each shard's reference events
        for o in later[p]:
            object.__setattr__(o, "offset", o.offset + len(parts[p]))
    rng = np.random.default_rng(5)
    for batch in merged_batches(later, 120, rng):
        out.extend(monitor.apply("m", "1", batch).drift_events)
    assert decisions(out_plain) and decisions(out) == decisions(out_plain)
    assert any(d[5] for d in decisions(out))  # and the shift was found
    assert head_of(store).late_events == 0


def test_a_shards_batch_applied_twice_counts_once_and_count_windows_sum() -> None:
    evs = events(3000)
    parts = sharded(evs)
    store = DictStore()
    monitor = FeatureMonitor(store, MonitorConfig(reference_size=400, window_size=500,
                                                  detectors=()))
    rng = np.random.default_rng(9)
    batches = merged_batches(parts, 90, rng)
    out = []
    for i, batch in enumerate(batches):
        out.extend(monitor.apply("m", "1", batch).drift_events)
        if i % 3 == 0:  # the shard crashed after publishing: its batch comes again, longer
            again = batch + parts[batch[0].partition][batch[-1].offset + 1:batch[-1].offset + 20]
            out.extend(monitor.apply("m", "1", again).drift_events)
            # and what that replay applied is not applied again when it comes in order
    head = head_of(store)
    assert head.seq == 3000
    sizes = {e.current_size for e in out if e.test in ("ks", "chi2")}
    assert sizes == {500}  # (3000 - 400) // 500 = 5 windows of exactly 500, summed over shards
    assert len({e.window_start_seq for e in out if e.test == "ks"}) == 5


def test_partials_round_trip_and_sampling_is_deterministic() -> None:
    evs = events(2000)
    partial = Partial(model="m", version="1", partition=3, offsets=[1, 2],
                      timestamps=[evs[0]["timestamp"], evs[1]["timestamp"]],
                      origins=[None, (0, 7)], features=[evs[0]["features"], evs[1]["features"]])
    assert Partial.decode(partial.encode()) == partial
    kept = [e["event_id"] for e in evs if sampled(e["event_id"], 0.25)]
    assert kept == [e["event_id"] for e in evs if sampled(e["event_id"], 0.25)]
    assert 0.2 < len(kept) / len(evs) < 0.3
    # a smaller sample is inside a larger one: raising the rate only adds events
    assert set(e for e in kept if sampled(e, 0.1)) == {e["event_id"] for e in evs
                                                       if sampled(e["event_id"], 0.1)}
    shards = [shard_of(e["event_id"], 4) for e in evs]
    assert set(shards) == {0, 1, 2, 3} and max(shards.count(s) for s in range(4)) < 600


def test_a_partial_that_is_not_one_is_refused_with_a_reason() -> None:
    import pytest

    good = Partial(model="m", version="1", partition=0, offsets=[1, 2],
                   timestamps=["2026-01-01T00:00:00+00:00"] * 2, origins=[None, None],
                   features=[{"x": 1.0}, {"x": 2.0}]).encode()
    for raw, reason in [
        (b"not json", "not a partial"),
        (b'{"format": "other"}', "not a partial of format"),
        (good.replace(b'"offsets":[1,2]', b'"offsets":[2,1]'), "offsets not increasing"),
        (good.replace(b'"offsets":[1,2]', b'"offsets":[1]'), "columns of different lengths"),
        (good.replace(b'"model":"m",', b""), "malformed partial"),
    ]:
        with pytest.raises(ValueError, match=reason):
            Partial.decode(raw)


def test_a_sharded_heads_bookkeeping_is_bounded_by_its_partitions() -> None:
    """Per shard partition: one applied offset and one watermark, whatever the stream's length."""
    evs = events(4000)
    store = DictStore()
    monitor = FeatureMonitor(store, MonitorConfig(**TIME, shard_partitions=frozenset({0, 1, 2})))
    parts = sharded(evs, shards=3)
    for batch in merged_batches(parts, 200, np.random.default_rng(2)):
        monitor.apply("m", "1", batch)
    head = head_of(store)
    assert head.seq == 4000
    assert set(head.offsets) | {str(head.partition)} == {"0", "1", "2"}
    assert set(head.watermarks) == {"0", "1", "2"}
    assert len(head.windows) <= 2  # closed windows leave the head

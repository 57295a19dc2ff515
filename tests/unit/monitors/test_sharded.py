"""A sharded model's reducer: the monitor fed every shard's events, partition by partition, in
any interleaving, decides as the unsharded monitor does on the same events in time order —
exactly: reference, time and count windows, alerts, metrics and online detectors (it stages
what arrives and releases it in merged event-time order) — survives a crash between batches,
keeps only what lies beyond the merged watermark, and counts each event once when a shard's
batch comes twice."""

from __future__ import annotations

import struct

import numpy as np
import orjson

from cli.traffic import TrafficSpec, feature_events
from drift.hygiene import AlertPolicy
from monitors.buffered import BufferedStore
from monitors.drift_monitor import FeatureMonitor, MonitorConfig, Observation
from monitors.staging import staged_events
from monitors.state import ModelHead, reference_key
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
    plain = FeatureMonitor(DictStore(), MonitorConfig(**TIME))
    out_plain = []
    obs = single(evs)
    for i in range(0, len(obs), 100):
        out_plain.extend(plain.apply("m", "1", obs[i:i + 100]).drift_events)

    store = DictStore()
    monitor = FeatureMonitor(store, MonitorConfig(**TIME, shard_partitions=frozenset({0, 1})))
    out = []
    # the reference too comes in whatever order the shards publish
    for batch in merged_batches(sharded(evs), 120, np.random.default_rng(5)):
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
    assert head.seq + staged_events(head) == 3000  # the last ones wait for the other shard
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
    assert head.seq + staged_events(head) == 4000
    assert set(head.offsets) | {str(head.partition)} == {"0", "1", "2"}
    assert set(head.watermarks) == {"0", "1", "2"}
    assert len(head.windows) <= 2  # closed windows leave the head


# -- count windows, the reference and the detectors: merged event-time order -------------------
COUNT = dict(reference_size=400, window_size=300, metric_features=("x", "y"),
             alert_policy=AlertPolicy(k=2, m=3))  # detectors on (the default two)
#: what differs between a sharded and an unsharded run by construction: where events were read
WHERE = ("partition", "window_start_offset", "window_end_offset")


def outcome(outputs):
    """Everything a run decided, without where events were read. Drift events by id: a batch
    lists its detectors' alarms feature by feature, so their order follows batch bounds."""
    def plain(event):
        return {k: v for k, v in event.asdict().items() if k not in WHERE}

    return dict(
        drift=sorted((plain(e) for out in outputs for e in out.drift_events),
                     key=lambda e: e["event_id"]),
        alerts=[(a.kind, a.outcome, a.k, a.m, [plain(e) for e in a.events])
                for out in outputs for a in out.alerts],
        metrics=[plain(m) for out in outputs for m in out.metrics])


def unsharded_run(evs, config, batch=100):
    monitor = FeatureMonitor(DictStore(), config)
    obs = single(evs)
    return [monitor.apply("m", "1", obs[i:i + batch]) for i in range(0, len(obs), batch)]


def expected_count_run():
    evs = events(3000)
    return evs, outcome(unsharded_run(evs, MonitorConfig(**COUNT)))


def test_count_windows_detectors_and_reference_sharded_decide_as_unsharded_exactly() -> None:
    evs, expected = expected_count_run()
    kinds = {e["kind"] for e in expected["drift"]}
    # the case is worth testing: windows drift, alerts fire, and the online detectors fire
    assert {"data_drift", "detector_alarm"} <= kinds and expected["alerts"]
    assert any(e["drifted"] for e in expected["drift"] if e["kind"] == "data_drift")
    for shards, seed, batch, per_apply in [(2, 1, 40, 1), (2, 2, 300, 1), (3, 3, 120, 1),
                                           (3, 4, 7, 1), (3, 5, 60, 4)]:
        parts = sharded(evs, shards)
        monitor = FeatureMonitor(DictStore(), MonitorConfig(
            **COUNT, shard_partitions=frozenset(range(shards))))
        rng = np.random.default_rng(seed)
        partials = merged_batches(parts, batch, rng)
        # a reducer's batch holds several partials, of one shard or several
        batches = [sum(partials[i:i + per_apply], []) for i in range(0, len(partials), per_apply)]
        outputs = [monitor.apply("m", "1", b) for b in batches]
        # the last events wait for a shard to pass them; one more event on each releases them
        outputs.extend(monitor.apply("m", "1", [tail]) for tail in tails(parts))
        got = outcome(outputs)
        assert got == expected, (shards, seed, batch, per_apply)


def tails(parts):
    """One event per shard partition later than every event: it moves the merged watermark
    past the end (windows need not close: 1 event < ``min_window_events``)."""
    return [Observation(offset=len(obs), partition=p, timestamp="2099-01-01T00:00:00+00:00",
                        features={}) for p, obs in parts.items()]


def test_the_reference_is_the_first_events_in_time_whatever_the_arrival_order() -> None:
    evs = events(1200)
    plain = DictStore()
    monitor = FeatureMonitor(plain, MonitorConfig(**COUNT))
    monitor.apply("m", "1", single(evs)[:500])
    store = DictStore()
    monitor = FeatureMonitor(store, MonitorConfig(**COUNT, shard_partitions=frozenset({0, 1})))
    parts = sharded(evs)
    # shard 1 first, a long way ahead: on arrival order the reference would be mostly its
    for batch in [parts[1][:450], parts[0][:300], parts[1][450:], parts[0][300:]]:
        monitor.apply("m", "1", batch)
    key = reference_key("f", "m", "1")
    assert store.get(key) == plain.get(key)


def test_a_crash_between_batches_changes_nothing() -> None:
    """The reducer dies after applying a batch but before committing it (its outputs may be
    out), or after committing; a new one recovers the table and the batch comes again."""
    evs, expected = expected_count_run()
    parts = sharded(evs, 3)
    config = MonitorConfig(**COUNT, shard_partitions=frozenset(range(3)))
    rng = np.random.default_rng(21)
    state: dict[bytes, bytes] = {}
    outputs = []
    batches = merged_batches(parts, 150, rng) + [[t] for t in tails(parts)]
    for n, batch in enumerate(batches):
        if n % 4 == 1:  # applied, never committed: the batch comes again to a new reducer
            FeatureMonitor(BufferedStore(_dict_store(state)), config).apply("m", "1", batch)
        store = BufferedStore(_dict_store(state))
        outputs.append(FeatureMonitor(store, config).apply("m", "1", batch))
        store.commit()
        if n % 4 == 3:  # committed, then the same batch again (its offsets were not)
            replay = BufferedStore(_dict_store(state))
            assert not FeatureMonitor(replay, config).apply("m", "1", batch).drift_events
            replay.commit()
        state = dict(state)  # a new reducer recovers the table from its changelog
    assert outcome(outputs) == expected


def _dict_store(data):
    store = DictStore()
    store.data = data
    return store


def test_only_what_lies_beyond_the_merged_watermark_is_staged() -> None:
    evs = events(3000)
    parts = sharded(evs, 2)
    store = DictStore()
    monitor = FeatureMonitor(store, MonitorConfig(**COUNT, shard_partitions=frozenset({0, 1})))
    arrived: list[Observation] = []
    most = most_bytes = 0
    for batch in merged_batches(parts, 100, np.random.default_rng(8)):
        monitor.apply("m", "1", batch)
        arrived.extend(batch)
        heard = [max((o for o in arrived if o.partition == p), default=None,
                     key=lambda o: o.offset) for p in (0, 1)]
        if None in heard:
            beyond = len(arrived)
        else:
            front = min((o.timestamp, o.partition, o.offset) for o in heard)
            beyond = sum((o.timestamp, o.partition, o.offset) > front for o in arrived)
        head = head_of(store)
        assert staged_events(head) == beyond
        assert head.seq == len(arrived) - beyond
        staged = {k: v for k, v in store.data.items() if k.startswith(b"fs|")}
        # keys are the chunks the head counts, and those the last batch released wholly
        assert {int(k.rsplit(b"|", 1)[1]) for k in staged} == (
            {n for n, *_ in head.staged} | set(head.staged_stale))
        most = max(most, beyond)
        most_bytes = max(most_bytes, sum(len(v) for v in staged.values()))
    print(f"most staged: {most} events, {most_bytes} bytes")  # noqa: T201 - measured
    assert 0 < most < 600 and most_bytes < 200_000
    for tail in tails(parts):
        monitor.apply("m", "1", [tail])
    head = head_of(store)
    assert head.seq == 3000 + 1 and staged_events(head) == 1  # every event released but a tail
    monitor.apply("m", "1", [Observation(offset=len(parts[0]) + 1, partition=0,
                                         timestamp="2099-01-01T00:00:01+00:00", features={})])
    # what is left: the last tail, and the other (released now, its key deleted next batch)
    assert len([k for k in store.data if k.startswith(b"fs|")]) == 2
    assert staged_events(head_of(store)) == 1


def test_a_silent_shard_holds_events_back_and_late_events_go_at_once() -> None:
    evs = events(1000)
    parts = sharded(evs)
    store = DictStore()
    monitor = FeatureMonitor(store, MonitorConfig(**COUNT, shard_partitions=frozenset({0, 1})))
    out = monitor.apply("m", "1", parts[0][:200])
    assert head_of(store).seq == 0 and staged_events(head_of(store)) == 200
    assert out.staged == {("m", "1"): 200}  # what the agent shows as a gauge
    first = parts[1][0]
    out = monitor.apply("m", "1", [first])  # shard 1 heard: what is not later than it goes
    head = head_of(store)
    released = sum(o.timestamp <= first.timestamp for o in parts[0][:200]) + 1
    assert head.seq == released and staged_events(head) == 201 - released
    assert out.staged == {("m", "1"): 201 - released}
    # an event older than what was released (produced late, or re-sent): applied at once
    late = Observation(offset=1, partition=1, timestamp="2026-01-01T00:00:00+00:00",
                       features={"x": 1.0})
    monitor.apply("m", "1", [late])
    assert head_of(store).seq == released + 1
    monitor.apply("m", "1", [late])  # and once only
    assert head_of(store).seq == released + 1


def test_a_head_written_before_staging_decodes_with_nothing_staged() -> None:
    head = ModelHead(model="m", version="1", partition=0, seq=7, watermarks={"0": "x"})
    raw = head.encode()
    (length,) = struct.unpack_from("<I", raw)
    data = orjson.loads(raw[4:4 + length])
    for name in ("staged", "next_staged", "released", "staged_stale"):
        del data[name]
    header = orjson.dumps(data)
    old = ModelHead.decode(struct.pack("<I", len(header)) + header + raw[4 + length:])
    assert old.seq == 7 and old.staged == [] and old.released == [] and staged_events(old) == 0


def test_a_model_no_longer_sharded_applies_what_it_had_staged_first() -> None:
    evs = events(1000)
    parts = sharded(evs)
    store = DictStore()
    FeatureMonitor(store, MonitorConfig(**COUNT, shard_partitions=frozenset({0, 1}))).apply(
        "m", "1", parts[0][:300])
    assert staged_events(head_of(store)) == 300
    unsharded = FeatureMonitor(store, MonitorConfig(**COUNT))
    later = Observation(offset=0, partition=3, timestamp="2099-01-01T00:00:00+00:00",
                        features={})
    unsharded.apply("m", "1", [later])
    head = head_of(store)
    assert head.seq == 301 and staged_events(head) == 0 and head.staged_stale
    unsharded.apply("m", "1", [Observation(offset=1, partition=3, features={},
                                           timestamp="2099-01-01T00:00:01+00:00")])
    assert not [k for k in store.data if k.startswith(b"fs|")]


def test_staged_observations_round_trip_exactly() -> None:
    from monitors.staging import decode, encode

    obs = [Observation(offset=3, partition=1, timestamp="2026-01-01T00:00:00+00:00",
                       features={"x": 0.1 + 0.2, "n": 3, "c": "a", "gone": None}),
           Observation(offset=4, partition=1, timestamp="2026-01-01T00:00:01+00:00",
                       features={"c": True, "x": 1e-300}, origin=(0, 17)),
           Observation(offset=5, partition=1, timestamp="2026-01-01T00:00:02+00:00",
                       features={})]
    back = decode(encode(obs))
    assert back == obs
    assert [list(o.features) for o in back] == [list(o.features) for o in obs]  # and in order
    assert [type(v) for o in back for v in o.features.values()] == [
        type(v) for o in obs for v in o.features.values()]


def test_a_staged_event_that_raises_is_quarantined_and_the_rest_decide_as_without_it(
        monkeypatch) -> None:
    """An event staged by one batch and released by a later one raises when applied (a bug
    on that one event): it is quarantined once, with what it raised, and every other event
    is applied — the run decides as the unsharded run on the events without it."""
    evs = events(3000)
    parts = sharded(evs, 2)
    poison = parts[0][900]  # monitored, not reference: it passes windows and detectors
    rest = [e for e in evs if e["timestamp"] != poison.timestamp]
    assert len(rest) == len(evs) - 1
    expected = outcome(unsharded_run(rest, MonitorConfig(**COUNT)))
    assign = FeatureMonitor._assign

    def flaky(self, head, obs):  # type: ignore[no-untyped-def]
        if (obs.partition, obs.offset) == (poison.partition, poison.offset):
            raise RuntimeError("a bug that only this event triggers")
        return assign(self, head, obs)

    monkeypatch.setattr(FeatureMonitor, "_assign", flaky)
    monitor = FeatureMonitor(DictStore(), MonitorConfig(**COUNT, shard_partitions=frozenset({0, 1})))
    outputs = []
    staged_when_it_came = False
    for batch in merged_batches(parts, 80, np.random.default_rng(8)) + [[t] for t in tails(parts)]:
        out = monitor.apply("m", "1", batch)
        outputs.append(out)
        if poison in batch and not out.quarantined:
            staged_when_it_came = True
    assert staged_when_it_came  # released by a later batch: not one the agent could retry
    quarantined = [q for out in outputs for q in out.quarantined]
    assert [(o.partition, o.offset, v) for o, v, _ in quarantined] == [(0, poison.offset, "1")]
    assert quarantined[0][0].features == poison.features
    assert "a bug that only this event triggers" in quarantined[0][2]
    assert outcome(outputs) == expected


def test_a_head_encodes_to_the_bytes_it_always_had() -> None:
    """Heads live in changelogs: the encoding is the JSON of every field but the detector
    state (as ``dataclasses.asdict`` gave it), then the detector bytes."""
    import dataclasses

    evs = events(3000)
    store = DictStore()
    monitor = FeatureMonitor(store, MonitorConfig(**COUNT, shard_partitions=frozenset({0, 1})))
    seen = 0
    for batch in merged_batches(sharded(evs), 80, np.random.default_rng(1)):
        monitor.apply("m", "1", batch)
        head = head_of(store)
        data = dataclasses.asdict(head)
        blob = data.pop("detectors") or b""
        header = orjson.dumps(data)
        assert head.encode() == struct.pack("<I", len(header)) + header + blob
        seen += bool(head.windows and head.staged and head.hygiene and blob)
    assert seen  # heads with open windows, staged chunks, hygiene and detectors among them

"""DRIFT__MODELS.<model>.sample_rate: the feature agent keeps the events whose event_id hashes
into the sample — the same ones on every run, worker and shard — drops the rest without a dead
letter, and the window results carry the rate, with current_size the effective sample size."""

from __future__ import annotations

import asyncio

import orjson

import agents.features as features
from agents.monitoring import decode_batch
from cli.traffic import TrafficSpec, feature_events
from monitors.drift_monitor import FeatureMonitor, MonitorConfig
from schemas.events import FeatureEvent
from streams.shards import sampled
from tests.unit.monitors.test_drift_monitor import DictStore
from tests.unit.observability.conftest import FakeEvent, FakeMessage


def test_the_agent_keeps_the_hashed_sample_and_results_carry_its_size(monkeypatch) -> None:
    evs = list(feature_events(TrafficSpec(model_name="hot", seed=3), 3000))
    monkeypatch.setitem(features._OPTIONS, "hot", (1, 0.3))  # (shards, sample_rate)
    events = [FakeEvent(FakeMessage("features", offset=i, key=b"hot", value=orjson.dumps(e)))
              for i, e in enumerate(evs)]
    groups = asyncio.run(decode_batch(events, FeatureEvent, prepare=features.observation,
                                      keep=features.keep))
    kept = [o.offset for _, o in groups[("hot", "1")]]
    expected = [i for i, e in enumerate(evs) if sampled(e["event_id"], 0.3)]
    assert kept == expected and 0.25 < len(kept) / len(evs) < 0.35
    assert asyncio.run(decode_batch(events, FeatureEvent, prepare=features.observation,
                                    keep=features.keep))[("hot", "1")][-1][1].offset == kept[-1]

    monitor = FeatureMonitor(DictStore(), MonitorConfig(reference_size=200, window_size=300,
                                                        detectors=(), sample_rate=0.3))
    out = monitor.apply("hot", "1", [o for _, o in groups[("hot", "1")]])
    results = [e for e in out.drift_events if e.test in ("ks", "chi2")]
    assert results and {(e.sample_rate, e.current_size) for e in results} == {(0.3, 300)}
    assert orjson.loads(results[0].dumps())["sample_rate"] == 0.3


def test_a_smaller_sample_is_inside_a_larger_one() -> None:
    ids = [e["event_id"] for e in feature_events(TrafficSpec(seed=5), 2000)]
    small = {i for i in ids if sampled(i, 0.1)}
    large = {i for i in ids if sampled(i, 0.25)}
    assert small < large and all(sampled(i, 1.0) for i in ids)


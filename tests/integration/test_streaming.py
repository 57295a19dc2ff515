"""Streaming drift on the real broker: failover, stationarity, alert hygiene, restarts."""

from __future__ import annotations

from itertools import zip_longest

import orjson
import pytest

from cli.traffic import TrafficSpec, feature_events
from monitors.state import ModelHead
from tests.integration.conftest import consume, produce, wait_for_changelog

pytestmark = pytest.mark.integration
WINDOW_TESTS = ("ks", "chi2")


def decoded(messages):
    """Drift events by event_id (a replay may publish one twice, with the same id)."""
    return {e["event_id"]: e for e in (orjson.loads(m.value) for m in messages)}


def window_results(messages):
    return [e for e in decoded(messages).values() if e["test"] in WINDOW_TESTS]


def interleave(models: list[str], streams: list[list[dict]]) -> list[tuple[bytes, bytes]]:
    out = []
    for group in zip_longest(*streams):
        for model, event in zip(models, group, strict=True):
            if event is not None:
                out.append((model.encode(), orjson.dumps(event)))
    return out


def comparable(results):
    return sorted((e["model_name"].split("-", 1)[1], e["feature"], e["window_start_seq"],
                   round(e["statistic"], 9), e["drifted"], e["alert"]) for e in results)


def test_failover_loses_nothing_and_counts_nothing_twice(worker_factory, base_env, broker, unique):
    env = {"DRIFT__REFERENCE_SIZE": "1000", "DRIFT__WINDOW_SIZE": "1000", "DRIFT__DETECTORS": "[]"}
    models = [f"{unique}-m{i}" for i in range(4)]
    streams = [list(feature_events(TrafficSpec(model_name=m, seed=i, shift_at=3000 if i % 2 else None,
                                               shift_sigma=0.8), 5000))
               for i, m in enumerate(models)]
    items = interleave(models, streams)
    assert len(items) == 20_000

    first = worker_factory(**env)
    second = worker_factory(**env)
    produce(broker, f"{unique}-features", items[:10_000])
    # let both make progress, then kill one without warning
    consume(broker, f"{unique}-drift-events", lambda m: len(window_results(m)) >= 4, timeout=120)
    second.kill()
    produce(broker, f"{unique}-features", items[10_000:])
    expected = 4 * 4 * 3  # models x windows x features
    results = window_results(consume(broker, f"{unique}-drift-events",
                                     lambda m: len(window_results(m)) >= expected, timeout=240))
    assert len(results) == expected
    assert first.alive

    # the state the survivor left: every event counted exactly once per model
    heads = [f"fh|{model}|1".encode() for model in models]
    state = wait_for_changelog(broker, unique, lambda s: all(
        k in s and ModelHead.decode(s[k]).seq >= 5000 for k in heads))
    for model in models:
        head = ModelHead.decode(state[f"fh|{model}|1".encode()])
        assert head.seq == 5000, (model, head.seq)
        assert head.phase == "monitoring" and head.windows == {}

    # and the results are those of one worker that never stopped
    single = f"{unique}s"
    solo = worker_factory(APP_ID=single, KAFKA__TOPICS__PREFIX=f"{single}-", **env)
    renamed = [(k.replace(unique.encode(), single.encode()), v.replace(unique.encode(),
                                                                        single.encode()))
               for k, v in items]
    produce(broker, f"{single}-features", renamed)
    reference = window_results(consume(broker, f"{single}-drift-events",
                                       lambda m: len(window_results(m)) >= expected, timeout=240))
    assert solo.alive
    assert comparable(results) == comparable(reference)
    assert any(e["drifted"] for e in results)


def test_stationary_stream_of_100k_events_raises_no_alert(worker_factory, broker, unique):
    model = f"{unique}-still"
    numeric = tuple(f"n{i}" for i in range(18))
    spec = TrafficSpec(model_name=model, numeric=numeric, categorical=("c0", "c1"), shifted=(),
                       seed=2024)
    worker_factory(DRIFT__DETECTORS="[]")
    events = [(model.encode(), orjson.dumps(e)) for e in feature_events(spec, 100_000)]
    produce(broker, f"{unique}-features", events)
    expected = 99 * 20  # 99 windows after the 1,000-event reference, 20 features each
    results = window_results(consume(broker, f"{unique}-drift-events",
                                     lambda m: len(window_results(m)) >= expected, timeout=400))
    assert len(results) == expected
    assert [e for e in results if e["alert"] != "none"] == []


def test_shifts_alert_within_two_windows_once_and_recover(worker_factory, broker, unique):
    model = f"{unique}-shift"
    spec = TrafficSpec(model_name=model, numeric=("x", "still"), categorical=("c",),
                       shifted=("x",), mass_shifted=("c",), shift_at=3000, shift_until=7000,
                       shift_sigma=0.5, mass_shift=0.15, seed=77)
    worker_factory(DRIFT__DETECTORS="[]")
    produce(broker, f"{unique}-features",
            [(model.encode(), orjson.dumps(e)) for e in feature_events(spec, 10_000)])
    results = window_results(consume(broker, f"{unique}-drift-events",
                                     lambda m: len(window_results(m)) >= 27, timeout=180))
    for feature in ("x", "c"):
        timeline = sorted((e["window_start_seq"], e["alert"]) for e in results
                          if e["feature"] == feature)
        fired = [seq for seq, alert in timeline if alert == "fired"]
        assert fired and fired[0] in (3000, 4000), timeline  # within 2 windows of the change
        assert len(fired) == 1, timeline  # not repeated while the shift lasts
        recovered = [seq for seq, alert in timeline if alert == "recovered"]
        assert len(recovered) == 1 and recovered[0] >= 7000, timeline
    assert not [e for e in results if e["feature"] == "still" and e["alert"] != "none"]
    # the monitor's own alerts; the retrain agent also writes to `alerts` (retrain_decision),
    # which the governed-loop tests check
    def hygiene(messages):
        return [a for a in map(orjson.loads, (m.value for m in messages))
                if a["kind"] in ("drift_alert", "recovered")]

    alerts = hygiene(consume(
        broker, f"{unique}-alerts",
        lambda m: sum(len(a["details"]["features"]) for a in hygiene(m)) >= 4, timeout=30))
    named = sorted((a["kind"], f) for a in alerts for f in a["details"]["features"])
    assert named == [("drift_alert", "c"), ("drift_alert", "x"), ("recovered", "c"),
                     ("recovered", "x")]


def test_a_restarted_worker_resumes_its_online_detectors(worker_factory, broker, unique):
    model = f"{unique}-det"
    spec = TrafficSpec(model_name=model, numeric=("x", "y"), categorical=(), shifted=("x",),
                       shift_at=2500, shift_sigma=1.0, seed=5)
    events = [(model.encode(), orjson.dumps(e)) for e in feature_events(spec, 5000)]
    env = {"DRIFT__REFERENCE_SIZE": "500", "DRIFT__WINDOW_SIZE": "500"}

    def detections(messages):
        return sorted((e["feature"], e["test"], e["statistic"], e["window_start_seq"])
                      for e in decoded(messages).values() if e["test"] not in WINDOW_TESTS)

    # uninterrupted
    straight = f"{unique}a"
    worker_factory(APP_ID=straight, KAFKA__TOPICS__PREFIX=f"{straight}-", **env)
    produce(broker, f"{straight}-features", events)
    expected = detections(consume(broker, f"{straight}-drift-events",
                                  lambda m: len(window_results(m)) >= 18, timeout=180))
    assert any(f == "x" and seq >= 2500 for f, _, _, seq in expected)

    # stopped without warning halfway, then a new worker carries on from the changelog
    first = worker_factory(**env)
    produce(broker, f"{unique}-features", events[:2000])
    consume(broker, f"{unique}-drift-events", lambda m: len(window_results(m)) >= 6, timeout=120)
    first.kill()
    worker_factory(**env)
    produce(broker, f"{unique}-features", events[2000:])
    resumed = detections(consume(broker, f"{unique}-drift-events",
                                 lambda m: len(window_results(m)) >= 18, timeout=180))
    assert resumed == expected


def test_events_keyed_by_something_else_are_rekeyed_and_counted_once(worker_factory, broker, unique):
    # producers that key by user, or not at all: the worker re-sends each event under its
    # model's key so one partition (one worker's state) sees all of a model's events
    model = f"{unique}-keys"
    spec = TrafficSpec(model_name=model, seed=21)
    events = list(feature_events(spec, 3000))
    keys = [None if i % 3 == 0 else f"user-{i % 11}".encode() if i % 3 == 1 else model.encode()
            for i in range(len(events))]
    worker = worker_factory(DRIFT__DETECTORS="[]")
    produce(broker, f"{unique}-features", [(k, orjson.dumps(e)) for k, e in zip(keys, events,
                                                                                 strict=True)])
    # reference 0..999, windows [1000, 2000) and [2000, 3000), three features each
    results = window_results(consume(broker, f"{unique}-drift-events",
                                     lambda m: len(window_results(m)) >= 6, timeout=120))
    assert len(results) == 6 and worker.alive
    assert sorted({(e["window_start_seq"], e["current_size"]) for e in results}) == \
        [(1000, 1000), (2000, 1000)]
    key = f"fh|{model}|1".encode()
    state = wait_for_changelog(broker, unique,
                               lambda s: key in s and ModelHead.decode(s[key]).seq >= 3000)
    head = ModelHead.decode(state[key])
    assert head.seq == 3000 and head.duplicate_copies == 0
    assert sum(1 for k in keys if k != model.encode()) == 2000
    assert head.rerouted  # the copies were seen as copies


def test_holes_in_a_partitions_offsets_are_sought_back_and_nothing_is_lost(
        worker_factory, broker, unique):
    """Transactional producers leave a commit marker after each transaction: an offset no
    consumer ever receives. The offset guard sees each as a hole, seeks back on the real
    consumer, recognises the hole as the log's own when the seek returns the same offset,
    and goes on: every event counted once, windows of exactly 1,000."""
    import asyncio

    from aiokafka import AIOKafkaProducer

    from settings import KafkaSettings
    from streams.admin import ensure_topics

    model = f"{unique}-tx"
    topic = f"{unique}-features"
    events = list(feature_events(TrafficSpec(model_name=model, seed=21), 3000))
    worker = worker_factory(DRIFT__REFERENCE_SIZE="1000", DRIFT__WINDOW_SIZE="1000",
                            DRIFT__DETECTORS="[]")

    async def send_in_transactions() -> None:
        await ensure_topics(KafkaSettings(broker=broker, partitions=4), [topic])
        producer = AIOKafkaProducer(bootstrap_servers=broker.removeprefix("kafka://"),
                                    transactional_id=f"{unique}-tx-producer")
        await producer.start()
        try:
            for start in range(0, len(events), 500):
                async with producer.transaction():
                    for event in events[start:start + 500]:
                        await producer.send(topic, key=model.encode(), value=orjson.dumps(event))
        finally:
            await producer.stop()

    asyncio.run(send_in_transactions())
    results = window_results(consume(broker, f"{unique}-drift-events",
                                     lambda m: len(window_results(m)) >= 6, timeout=120))
    assert sorted({(e["window_start_seq"], e["current_size"]) for e in results}) == \
        [(1000, 1000), (2000, 1000)]
    key = f"fh|{model}|1".encode()
    state = wait_for_changelog(broker, unique,
                               lambda s: key in s and ModelHead.decode(s[key]).seq >= 3000)
    assert ModelHead.decode(state[key]).seq == 3000 and worker.alive
    log = worker.output()
    assert "jumped from offset" in log and "are not in the log; going on" in log

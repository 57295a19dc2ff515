"""One hot model over several workers (DRIFT__MODELS.<model>.shards): a shard worker killed
without warning loses and double counts nothing, and the sharded model decides as an unsharded
one on the same events — time windows, and count windows with the online detectors on (the
reducer applies events in merged event-time order, whatever order the shards' partials come
in)."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from cli.traffic import TrafficSpec, feature_events
from monitors.staging import staged_events
from monitors.state import ModelHead
from streams.shards import placement
from tests.integration.conftest import consume, read_to_end, wait_for_changelog
from tests.integration.test_streaming import decoded, window_results

pytestmark = pytest.mark.integration
PARTITIONS = 4
ENV = {"DRIFT__REFERENCE_SIZE": "1000", "DRIFT__WINDOW_MODE": "time",
       "DRIFT__WINDOW_SECONDS": "100", "DRIFT__ALLOWED_LATENESS_SECONDS": "0",
       "DRIFT__DETECTORS": "[]"}
#: models with count windows and both online detectors (c1's x shifts), next to the time ones
COUNT_MODELS = ["c0", "c1"]
COUNT = {"window_mode": "count", "window_size": 500, "detectors": ["adwin", "page_hinkley"]}


def count_models(prefix: str) -> dict[str, str]:
    return {"DRIFT__MODELS": orjson.dumps(
        {f"{prefix}-{m}": COUNT for m in COUNT_MODELS}).decode()}


def send(broker: str, topic: str, items: list[tuple[bytes, bytes, int | None]]) -> None:
    """Produce (key, value, partition): a sharded model's events straight to their shards."""
    from aiokafka import AIOKafkaProducer

    from settings import KafkaSettings
    from streams.admin import ensure_topics

    async def run() -> None:
        await ensure_topics(KafkaSettings(broker=broker, partitions=PARTITIONS), [topic])
        producer = AIOKafkaProducer(bootstrap_servers=broker.removeprefix("kafka://"), acks="all")
        await producer.start()
        try:
            futures = [await producer.send(topic, key=k, value=v, partition=p)
                       for k, v, p in items]
            await asyncio.gather(*futures)
        finally:
            await producer.stop()

    asyncio.run(run())


def traffic(models: list[str], prefix: str, shards: int) -> list[list[tuple[bytes, bytes, int | None]]]:
    """Per model: 5,000 events (a shift from 3,000 on for odd models) and a tail of 100 that
    moves every shard's watermark past the last window. With shards, they go straight to
    their shard, except every seventh of the reference (the first 1,000), keyed by the model
    alone: the worker re-sends it to its shard (later, so only where no window can close
    before it arrives)."""
    out = []
    for i, model in enumerate(models):
        name = f"{prefix}-{model}"
        rows = []
        spec = TrafficSpec(model_name=name, seed=i, shift_at=3000 if i % 2 else None,
                           shift_sigma=0.8)
        for n, event in enumerate(feature_events(spec, 5100)):
            value = orjson.dumps(event)
            if shards > 1 and (n >= 1000 or n % 7):
                key, partition = placement(name, event["event_id"], shards, PARTITIONS)
                rows.append((key, value, partition))
            else:
                rows.append((name.encode(), value, None))
        out.append(rows)
    return out


def interleave(streams, start, stop):
    return [s[n] for n in range(start, stop) for s in streams]


def comparable(results):
    return sorted((e["model_name"].split("-", 1)[1], e["feature"], e["window_start_time"],
                   e["window_end_time"], e["window_start_seq"], e["current_size"],
                   round(e["statistic"], 9), e["drifted"], e["alert"]) for e in results)


def alarms(messages, before):
    """Online detectors' alarms at events before the ``before``-th: a sharded model's last
    events wait for every shard to pass them."""
    return sorted((e["model_name"].split("-", 1)[1], e["feature"], e["test"], e["timestamp"],
                   e["window_start_seq"], e["current_size"], round(e["statistic"], 9))
                  for e in decoded(messages).values()
                  if e["kind"] == "detector_alarm" and e["window_start_seq"] < before)


def heads_in(state, prefix, models, seq):
    """Every model's head has taken ``seq`` events (applied, or waiting for the shards)."""
    return all(k in state and received(ModelHead.decode(state[k])) >= seq
               for k in (f"fh|{prefix}-{m}|1".encode() for m in models))


def received(head: ModelHead) -> int:
    return head.seq + staged_events(head)


def counts(state, prefix, models):
    """Per model: (received, applied, late, duplicate copies, re-sent sources), or None
    without a head: what a failing assertion says first."""
    out = {}
    for model in models:
        raw = state.get(f"fh|{prefix}-{model}|1".encode())
        head = ModelHead.decode(raw) if raw is not None else None
        out[model] = None if head is None else (received(head), head.seq, head.late_events,
                                                head.duplicate_copies, dict(head.rerouted))
    return out


def test_a_killed_shard_worker_loses_nothing_and_decisions_match_unsharded(
        worker_factory, broker, unique):
    models = [f"m{i}" for i in range(4)] + COUNT_MODELS
    # time models x windows [100 s, 500 s) x features, and count models x 8 windows of 500
    # after the reference of 1,000 x features
    expected = 4 * 4 * 3 + 2 * 8 * 3
    sharded = f"{unique}"
    env = {**ENV, "DRIFT__SHARDS": "2", "KAFKA__PARTITIONS": str(PARTITIONS),
           **count_models(sharded)}
    streams = traffic(models, sharded, shards=2)
    first = worker_factory(**env)
    second = worker_factory(**env)
    topic = f"{sharded}-features"
    # the references first (the first 1,000 events of each model, whichever shard they are on;
    # the last ones wait in the reducer's table until both shards are past them)
    send(broker, topic, interleave(streams, 0, 1000))
    state = wait_for_changelog(broker, sharded, lambda s: heads_in(s, sharded, models, 1000),
                               timeout=120)
    # every reference event reached its reducer (the re-sent ones too) before any later one
    # is sent: otherwise the reference would take later events and the first window lose them
    assert heads_in(state, sharded, models, 1000), (
        "reference events missing", counts(state, sharded, models), first.output()[-3000:],
        second.output()[-3000:])
    send(broker, topic, interleave(streams, 1000, 3000))
    consume(broker, f"{sharded}-drift-events", lambda m: len(window_results(m)) >= 12,
            timeout=180)
    second.kill()  # without warning, with its shards' batches in flight
    send(broker, topic, interleave(streams, 3000, 5100))
    results = window_results(consume(broker, f"{sharded}-drift-events",
                                     lambda m: len(window_results(m)) >= expected, timeout=300))
    assert first.alive
    windows = {(e["model_name"], e["window_start_time"], e["feature"]) for e in results}
    assert len(results) == expected, (len(results), sorted(windows))
    state = wait_for_changelog(broker, sharded, lambda s: heads_in(s, sharded, models, 5100),
                               timeout=120)
    heads = {model: ModelHead.decode(state[f"fh|{sharded}-{model}|1".encode()])
             for model in models}
    # what each head counted, for the assertions' messages: a short window is either lost
    # events (received < 5100) or late ones (late_events), and the worker's log says why
    counted = counts(state, sharded, models)
    short = sorted({(e["model_name"].split("-", 1)[1], e["window_start_time"][11:22],
                     e["current_size"]) for e in results if e["current_size"] not in (1000, 500)})
    # 100 s of 10 events/s, all of them; 500 events
    assert not short, (counted, short[:8], first.output()[-6000:])
    assert {e["current_size"] for e in results} == {1000, 500}
    for model, head in heads.items():
        # each event once, whoever re-sent it; what waits is the last ones, past the windows
        assert received(head) == 5100 and head.seq >= 5000, (model, counted)
        assert head.late_events == 0, (model, counted)
        assert head.rerouted  # the events keyed by the model alone came through a re-send
    # the heads are committed after their outputs were acknowledged: all of them are there
    sharded_alarms = alarms(read_to_end(broker, f"{sharded}-drift-events"), 5000)

    # one unsharded worker on the same events
    solo = f"{unique}u"
    plain = traffic(models, solo, shards=1)
    worker = worker_factory(APP_ID=solo, KAFKA__TOPICS__PREFIX=f"{solo}-", **ENV,
                            **count_models(solo))
    send(broker, f"{solo}-features", interleave(plain, 0, 1000))
    wait_for_changelog(broker, solo, lambda s: heads_in(s, solo, models, 1000), timeout=120)
    send(broker, f"{solo}-features", interleave(plain, 1000, 5100))
    reference = window_results(consume(broker, f"{solo}-drift-events",
                                       lambda m: len(window_results(m)) >= expected, timeout=300))
    assert worker.alive
    assert comparable(results) == comparable(reference)
    assert any(e["drifted"] for e in results if e["model_name"].endswith("-c1"))
    assert any(e["drifted"] for e in results if e["model_name"].endswith("-m1"))
    wait_for_changelog(broker, solo, lambda s: heads_in(s, solo, models, 5100), timeout=120)
    plain_alarms = alarms(read_to_end(broker, f"{solo}-drift-events"), 5000)
    assert any(a[0] == "c1" for a in plain_alarms)  # the detectors fired on the shift
    assert sharded_alarms == plain_alarms

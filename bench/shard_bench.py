"""The benchmark's sharding phase: one hot model with ``shards=2``, on one worker and on two.

Run by ``bench/stream_bench.py`` (``--shard-events``, ``--skip-shards``). Each run has topics of
its own with 2 partitions, so each of two workers owns exactly one shard (and the worker that
owns the model's home partition its reducer too). The workers start first and the group is
let to settle; then the events are produced straight to their shards (as ``driftline replay``
does) and the run is timed from the first committed offset until every event is committed on
``features`` and every partial on ``feature-partials``. CPU time is read per worker: the
worker without the reducer spends only shard time (decode, validate, hand over), so

* shard CPU per event ``c_s`` = its CPU / its events,
* reducer CPU per event ``c_r`` = (the reducer worker's CPU - its shard's share) / all events,

and W workers on W free cores would reach about ``min(W / (c_s + c_r), 1 / c_r)`` events/s:
the shards spread, the one reducer per model does not.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import TopicPartition

from bench.produce import produce
from cli.traffic import TrafficSpec, feature_events
from settings import KafkaSettings
from streams.admin import ensure_topics
from streams.shards import home_partition, placement

MODEL = "hot"
PARTITIONS = 2


@dataclass
class ShardRun:
    workers: int
    rate: float  # events/s
    cpu: list[float]  # CPU seconds per worker over the timed part
    events: list[int]  # features events committed per worker's partition(s)


def shard_payloads(spec: TrafficSpec, n: int) -> list[tuple[bytes, bytes, int]]:
    out = []
    for event in feature_events(spec, n):
        key, partition = placement(MODEL, event["event_id"], 2, PARTITIONS)
        out.append((key, orjson.dumps(event), partition))
    return out


async def _group(admin: AIOKafkaAdminClient, group: str) -> tuple[str, int]:
    """(state, members) of a consumer group (DescribeGroups v0: error, id, state, protocol
    type, protocol, members)."""
    described: Any = await admin.describe_consumer_groups([group])
    row = described[0].groups[0]
    return str(row[2]), len(row[5])


async def _committed(admin: AIOKafkaAdminClient, group: str, topic: str) -> dict[int, int]:
    offsets = await admin.list_consumer_group_offsets(group)
    return {tp.partition: meta.offset for tp, meta in offsets.items()
            if tp.topic == topic and meta.offset > 0}


async def _ends(bootstrap: str, topic: str) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        return sum((await consumer.end_offsets(tps)).values())
    finally:
        await consumer.stop()


async def shard_run(bootstrap: str, base_env: dict[str, str], workers: int, n: int,
                    items: list[tuple[bytes, bytes, int]], workdir: Path,
                    start_worker: Any, stop: Any, cpu_seconds: Any) -> ShardRun:
    run = f"shard{workers}w{uuid.uuid4().hex[:6]}"
    prefix = f"{run}-"
    env = {**base_env, "APP_ID": run, "KAFKA__TOPICS__PREFIX": prefix, "WEB_ENABLED": "false",
           "KAFKA__PARTITIONS": str(PARTITIONS),
           "DRIFT__MODELS": orjson.dumps({MODEL: {"shards": 2}}).decode()}
    features, partials = f"{prefix}features", f"{prefix}feature-partials"
    await ensure_topics(KafkaSettings(broker=f"kafka://{bootstrap}", partitions=PARTITIONS),
                        [features, partials])
    procs = [start_worker({**env, "STATE_DIR": str(workdir / f"{run}-{i}")},
                          workdir / f"{run}-{i}.log") for i in range(workers)]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        deadline = time.monotonic() + 180
        while await _group(admin, run) != ("Stable", workers):  # every worker joined
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                raise SystemExit(f"shard phase: the workers did not settle; see {workdir}")
            await asyncio.sleep(0.5)
        producing = asyncio.create_task(produce(bootstrap, features, items))
        started = None
        cpu_start = [0.0] * workers
        done = {}
        while True:
            await asyncio.sleep(0.25)
            if any(p.poll() is not None for p in procs):
                raise SystemExit(f"shard phase: a worker exited; see {workdir}")
            done = await _committed(admin, run, features)
            if done and started is None:
                started = time.monotonic()
                cpu_start = [cpu_seconds(p.pid) for p in procs]
            if sum(done.values()) >= n and producing.done():
                reduced = await _committed(admin, run, partials)
                if sum(reduced.values()) >= await _ends(bootstrap, partials):
                    break
        elapsed = time.monotonic() - (started or time.monotonic())
        cpu = [cpu_seconds(p.pid) - c for p, c in zip(procs, cpu_start, strict=True)]
        await producing
    finally:
        await admin.close()
        for proc in procs:
            stop(proc)
    per_partition = [done.get(p, 0) for p in range(PARTITIONS)]
    return ShardRun(workers=workers, rate=n / elapsed, cpu=cpu, events=per_partition)


def prediction(two: ShardRun, n: int, workers: int = 8) -> tuple[float, float, float]:
    """(c_s µs, c_r µs, predicted events/s on ``workers`` workers) from the 2-worker run: the
    worker with more CPU holds the reducer (and the home partition's shard); the other only
    its shard."""
    reducer = max(range(2), key=lambda i: two.cpu[i])
    home = two.events[home_partition(MODEL, PARTITIONS)]  # the reducer worker's shard
    c_s = two.cpu[1 - reducer] / max(n - home, 1)
    c_r = max(two.cpu[reducer] - c_s * home, 1e-9) / n
    return c_s * 1e6, c_r * 1e6, min(workers / (c_s + c_r), 1 / c_r)


async def shard_phase(bootstrap: str, env: dict[str, str], n: int, workdir: Path,
                      start_worker: Any, stop: Any, cpu_seconds: Any) -> list[str]:
    """Markdown rows: 1 worker, 2 workers, their ratio and the 8-worker prediction."""
    spec = TrafficSpec(model_name=MODEL, numeric=tuple(f"n{i}" for i in range(20)),
                       categorical=("c0", "c1"), shifted=(), seed=7)
    items = shard_payloads(spec, n)
    env = {k: v for k, v in env.items() if k not in ("WEB_PORT",)}
    one = await shard_run(bootstrap, env, 1, n, items, workdir, start_worker, stop, cpu_seconds)
    two = await shard_run(bootstrap, env, 2, n, items, workdir, start_worker, stop, cpu_seconds)
    c_s, c_r, eight = prediction(two, n)
    return [
        f"| one model, shards=2, 1 worker ({n:,} events) | {one.rate:,.0f} events/s, "
        f"CPU {sum(one.cpu) / n * 1e6:,.0f} µs per event |",
        f"| one model, shards=2, 2 workers | {two.rate:,.0f} events/s, CPU per worker "
        + ", ".join(f"{c / n * 1e6:,.0f}" for c in two.cpu) + " µs per event |",
        f"| one model, 2 workers / 1 worker | {two.rate / one.rate:.2f} |",
        f"| per-event CPU: shard {c_s:,.0f} µs, reducer {c_r:,.0f} µs → 8 workers on 8 free "
        f"cores | ≈ {eight:,.0f} events/s (the one reducer caps it at {1e6 / c_r:,.0f}) |",
    ]

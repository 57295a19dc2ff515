"""Streaming benchmark: one driftline worker against the raw aiokafka consume rate.

    .venv/bin/python bench/stream_bench.py [--events 1000000] [--models 4]

Needs Kafka and PostgreSQL (``driftline stack up --only kafka,postgres``; started if they
are not running). Measures, in
one run on the same broker and the same events (20 numeric + 2 categorical features, windows
of 1,000 events):

* events/s of a bare aiokafka consumer reading the topic, and of one driftline worker
  processing it (time from the worker's first fetch to its committed offsets reaching the
  end), and their ratio;
* events/s of a faust agent that only counts (bench/faust_noop.py), once before the worker
  and once after it, and the ratio of the worker to their median; and once more on the
  worker's own consumer (direct delivery, its agent buffer: streams/delivery.py);
* produce-to-drift-event latency, p50 and p99, at a steady rate below capacity
  (``--latency-rate``, default 2,000 events/s), measured first, on a quiet broker;
* peak RSS of the worker after 100,000 events and at the end;
* changelog bytes written per 1,000 events;
* one hot model with ``shards=2`` on 1 worker and on 2 (``bench/shard_bench.py``): the
  ratio, per-worker CPU, and what the per-shard CPU predicts for 8 workers.

Prints a Markdown table; medians over ``--repeat`` runs of the consume phases.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import TopicPartition

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.produce import produce  # noqa: E402
from bench.shard_bench import shard_phase  # noqa: E402
from cli.traffic import TrafficSpec, feature_events  # noqa: E402
from settings import KafkaSettings, get_settings  # noqa: E402
from streams.admin import ensure_topics  # noqa: E402

DRIFTLINE = str(Path(sys.executable).parent / "driftline")
NUMERIC = tuple(f"n{i}" for i in range(20))
CATEGORICAL = ("c0", "c1")


def spec(model: str, seed: int) -> TrafficSpec:
    return TrafficSpec(model_name=model, numeric=NUMERIC, categorical=CATEGORICAL, shifted=(),
                       seed=seed)


def payloads(models: list[str], n: int, first: int = 0) -> list[tuple[bytes, bytes]]:
    per_model = n // len(models)
    streams = [feature_events(spec(m, i), per_model, first=first // len(models))
               for i, m in enumerate(models)]
    out = []
    for group in zip(*streams, strict=True):
        for model, event in zip(models, group, strict=True):
            out.append((model.encode(), orjson.dumps(event)))
    return out


async def raw_consume(bootstrap: str, topic: str, n: int) -> float:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=f"raw-{uuid.uuid4()}",
                                auto_offset_reset="earliest", enable_auto_commit=False,
                                max_partition_fetch_bytes=4 * 1024 * 1024)
    await consumer.start()
    try:
        seen, started = 0, None
        while seen < n:
            batch = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            if started is None and batch:
                started = time.monotonic()
            seen += sum(len(records) for records in batch.values())
        return n / (time.monotonic() - (started or time.monotonic()))
    finally:
        await consumer.stop()


async def committed(bootstrap: str, group: str, topic: str) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
        return sum(meta.offset for tp, meta in offsets.items() if tp.topic == topic and meta.offset > 0)
    finally:
        await admin.close()


def faust_noop(bootstrap: str, topic: str, n: int, workdir: Path,
               profile: Path | None = None, *, tuned: bool = False) -> tuple[float, float]:
    """(events/s, CPU µs per event) of a faust agent that only counts: faust's own ceiling
    on this machine — or, ``tuned``, faust's with the driftline worker's consumer. With
    ``profile``, py-spy records it from its first batch on."""
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / "faust-noop.log"
    env = {**os.environ, "BENCH_APP": f"noop{uuid.uuid4().hex[:8]}", "BENCH_TOPIC": topic,
           "BENCH_BROKER": f"kafka://{bootstrap}", "BENCH_EVENTS": str(n),
           "BENCH_MAX_FETCH_BYTES": str(KafkaSettings().max_fetch_bytes_per_partition),
           "BENCH_BATCH": str(get_settings().drift.feature_batch_size),  # the worker's batches
           "PYTHONPATH": str(REPO)}
    if tuned:
        env |= {"BENCH_CONSUMER": "driftline",
                "BENCH_BUFFER": str(get_settings().kafka.stream_buffer_size)}
    with log.open("wb") as handle:
        proc = subprocess.Popen([sys.executable, "-m", "faust", "-A", "bench.faust_noop",  # noqa: S603
                                 "--datadir", str(workdir / "noop-data"), "worker", "--without-web",
                                 "-l", "warn"],
                                env=env, stdout=handle, stderr=subprocess.STDOUT,
                                start_new_session=True, cwd=REPO)
    profiler = None
    try:
        deadline = time.monotonic() + n / 500 + 120
        while time.monotonic() < deadline and proc.poll() is None:
            text = log.read_text(errors="replace")
            if profile is not None and profiler is None and "STARTED" in text:
                profiler = start_profiler(proc.pid, profile)
            for line in text.splitlines():
                if "RATE " in line:
                    words = line.rsplit("RATE ", 1)[1].split()
                    return float(words[0]), float(words[2])
            time.sleep(0.1 if profiler is None else 0.5)
        return float("nan"), float("nan")
    finally:
        if profiler is not None:
            profiler.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
            profiler.wait(timeout=60)
        stop(proc)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def changelog_written(port: int) -> float:
    """What the worker counted into its tables' changelogs (before any compaction)."""
    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    return sum(sample.value for family in text_string_to_metric_families(text)
               if family.name == "driftline_changelog_bytes"
               for sample in family.samples if sample.name.endswith("_total"))


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (all its threads)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    handle = log.open("wb")
    proc = subprocess.Popen([DRIFTLINE, "worker", "-l", "warn"], env=env, stdout=handle,  # noqa: S603
                            stderr=subprocess.STDOUT, start_new_session=True)
    return proc


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


async def changelog_bytes(bootstrap: str, topic: str) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                                enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()  # noqa: SLF001
        tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        end = await consumer.end_offsets(tps)
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        total, remaining = 0, {tp for tp in tps if end[tp] > 0}
        while remaining:
            for tp, records in (await consumer.getmany(timeout_ms=1000)).items():
                for r in records:
                    total += len(r.key or b"") + len(r.value or b"")
                    if r.offset + 1 >= end[tp]:
                        remaining.discard(tp)
        return total
    finally:
        await consumer.stop()


async def latency(bootstrap: str, prefix: str, env: dict[str, str], rate: float, n: int,
                  models: list[str], workdir: Path) -> tuple[float, float, int]:
    """Produce ``n`` events at ``rate``/s to a live worker; time each window's drift event."""
    topic = f"{prefix}features"
    proc = start_worker(env, workdir / "latency-worker.log")
    try:
        await asyncio.sleep(12)  # worker start-up (imports, group join)
        items = payloads(models, n, first=0)
        feature_ts: dict[tuple[int, int], float] = {}
        consumer = AIOKafkaConsumer(f"{prefix}drift-events", bootstrap_servers=bootstrap,
                                    group_id=None, auto_offset_reset="latest")
        await consumer.start()
        await consumer.seek_to_end()
        producer_task = asyncio.create_task(produce(bootstrap, topic, items, rate))
        # the feature records' broker timestamps, by (partition, offset)
        reader = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None,
                                  auto_offset_reset="latest")
        await reader.start()
        await reader.seek_to_end()
        delays: list[float] = []
        windows = (n // len(models) - 1000) // 1000 * len(models)
        deadline = time.monotonic() + n / rate + 120
        seen_windows: set[tuple[str, int]] = set()
        while len(seen_windows) < windows and time.monotonic() < deadline:
            for records in (await reader.getmany(timeout_ms=50)).values():
                for r in records:
                    feature_ts[(r.partition, r.offset)] = r.timestamp / 1000
            for records in (await consumer.getmany(timeout_ms=50)).values():
                for r in records:
                    event = orjson.loads(r.value)
                    key = (event["model_name"], event["window_start_seq"])
                    if event["test"] not in ("ks", "chi2") or key in seen_windows:
                        continue
                    seen_windows.add(key)
                    produced = feature_ts.get((event["partition"], event["window_end_offset"]))
                    if produced is not None:
                        delays.append(r.timestamp / 1000 - produced)
        await producer_task
        await consumer.stop()
        await reader.stop()
    finally:
        stop(proc)
    delays.sort()
    if not delays:
        return float("nan"), float("nan"), 0
    p99 = delays[min(len(delays) - 1, int(round(0.99 * (len(delays) - 1))))]
    return statistics.median(delays), p99, len(delays)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--models", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3, help="raw-consume repetitions")
    parser.add_argument("--latency-events", type=int, default=24_000)
    parser.add_argument("--latency-rate", type=float, default=2_000.0,
                        help="steady produce rate (events/s) for the latency phase")
    parser.add_argument("--skip-latency", action="store_true",
                        help="leave out the latency phase (quicker runs while tuning)")
    parser.add_argument("--profile", type=Path, default=None, metavar="FILE",
                        help="record the worker with py-spy into FILE (collapsed stacks) and "
                        "print where its CPU went; the first no-op run goes to FILE.noop")
    parser.add_argument("--shard-events", type=int, default=100_000,
                        help="events of the sharding phase (one model, shards=2, 1 vs 2 workers)")
    parser.add_argument("--skip-shards", action="store_true", help="leave out that phase")
    args = parser.parse_args()

    subprocess.run([DRIFTLINE, "stack", "up", "--only", "kafka,postgres"], check=True,  # noqa: S603
                   stdout=subprocess.DEVNULL)
    stack_env = subprocess.run([DRIFTLINE, "stack", "env", "--only", "kafka,postgres"],  # noqa: S603
                               check=True, capture_output=True, text=True).stdout
    for line in stack_env.splitlines():  # the stack's addresses, unless the caller set them
        name, _, value = line.removeprefix("export ").partition("=")
        os.environ.setdefault(name, value.strip("'\""))
    kafka = KafkaSettings(broker=os.environ.get("KAFKA__BROKER", "kafka://127.0.0.1:19092"))
    bootstrap = kafka.bootstrap_servers
    run = f"bench{uuid.uuid4().hex[:8]}"
    prefix = f"{run}-"
    topic = f"{prefix}features"
    models = [f"model{i}" for i in range(args.models)]
    workdir = Path(tempfile.mkdtemp(prefix="driftline-bench-"))
    # PostgreSQL, as in production: the embedded SQLite default's page caches (one per pooled
    # connection) fill slowly and would read as growth over a long run
    web_port = free_port()
    env = {**os.environ, "APP_ID": run, "KAFKA__TOPICS__PREFIX": prefix, "WEB_ENABLED": "true",
           "WEB_PORT": str(web_port), "STATE_DIR": str(workdir / "state")}

    # latency first, on a quiet broker: after a million events its log cleaner compacts the
    # changelog for minutes, and a worker sharing the two cores with it falls behind any rate
    lat_env = {**env, "APP_ID": f"{run}l", "KAFKA__TOPICS__PREFIX": f"{run}l-",
               "STATE_DIR": str(workdir / "state-latency"), "WEB_ENABLED": "false"}
    await ensure_topics(kafka, [f"{run}l-features", f"{run}l-drift-events"])
    rate = args.latency_rate
    p50 = p99 = float("nan")
    count = 0
    if not args.skip_latency:
        print(f"latency at {rate:,.0f} events/s ...", file=sys.stderr)
        p50, p99, count = await latency(bootstrap, f"{run}l-", lat_env, rate,
                                        args.latency_events, models, workdir)

    await ensure_topics(kafka, [topic])
    print(f"producing {args.events:,} events to {topic} ...", file=sys.stderr)
    chunk = 200_000
    for first in range(0, args.events, chunk):
        await produce(bootstrap, topic, payloads(models, min(chunk, args.events - first), first))

    raw_rates = [await raw_consume(bootstrap, topic, args.events) for _ in range(args.repeat)]
    raw = statistics.median(raw_rates)
    print(f"raw aiokafka consume: {raw:,.0f} events/s (runs: "
          f"{', '.join(f'{r:,.0f}' for r in raw_rates)})", file=sys.stderr)

    # the no-op runs before and after the worker, and the ratio takes their median: on a
    # shared machine the speed moves over minutes, and one no-op run measured it at one time
    # 200,000 events, but never the topic's last ones: at the end of the topic its last
    # partial batch waits out ``within`` (1 s of a ≈ 15 s run), which made a 200,000-event
    # topic's no-op look up to ≈ 7 % slower than a longer topic's
    noop_events = min(args.events * 9 // 10, 200_000)
    noop_runs = [faust_noop(bootstrap, topic, noop_events, workdir / "noop-before",
                            args.profile and args.profile.with_name(args.profile.name + ".noop"))]
    print(f"faust no-op agent: {noop_runs[0][0]:,.0f} events/s", file=sys.stderr)

    proc = start_worker(env, workdir / "worker.log")
    profiler = None
    rss_100k = peak = 0
    started = None
    cpu_start = 0.0
    done = 0
    samples: dict[int, int] = {}  # events committed -> RSS (KiB), about every tenth
    try:
        while done < args.events:
            await asyncio.sleep(0.5)
            if proc.poll() is not None:
                raise SystemExit(f"worker exited; see {workdir / 'worker.log'}")
            done = await committed(bootstrap, run, topic)
            if done and started is None:
                started = time.monotonic()
                cpu_start = cpu_seconds(proc.pid)
                # from the first commit on: start-up (imports, group join) is not the steady state
                if args.profile:
                    profiler = start_profiler(proc.pid, args.profile)
            rss = rss_kib(proc.pid)
            peak = max(peak, rss)
            tenth = done * 10 // args.events
            if tenth not in {k * 10 // args.events for k in samples}:
                samples[done] = rss
            if done <= 100_000:
                rss_100k = max(rss_100k, rss)
        elapsed = time.monotonic() - (started or time.monotonic())
        cpu = cpu_seconds(proc.pid) - cpu_start
        written = changelog_written(web_port)
    finally:
        if profiler is not None:
            profiler.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
            profiler.wait(timeout=60)
        stop(proc)
    worker_rate = args.events / elapsed if elapsed else float("nan")
    print(f"driftline worker: {worker_rate:,.0f} events/s", file=sys.stderr)
    noop_runs.append(faust_noop(bootstrap, topic, noop_events, workdir / "noop-after"))
    print(f"faust no-op agent, again: {noop_runs[1][0]:,.0f} events/s", file=sys.stderr)
    noop = statistics.median(rate for rate, _ in noop_runs)
    noop_cpu = statistics.median(cpu for _, cpu in noop_runs)
    # what the worker's consumer (direct delivery, its agent buffer) does for faust itself:
    # the ceiling the worker now works under
    tuned_rate, tuned_cpu = faust_noop(bootstrap, topic, noop_events, workdir / "noop-tuned",
                                       tuned=True)
    print(f"faust no-op agent on the worker's consumer: {tuned_rate:,.0f} events/s",
          file=sys.stderr)
    changelog = await changelog_bytes(bootstrap, f"{run}-feature-state-changelog")
    shard_rows: list[str] = []
    if not args.skip_shards:
        print(f"sharding phase: one model, shards=2, {args.shard_events:,} events ...",
              file=sys.stderr)
        shard_rows = await shard_phase(bootstrap, env, args.shard_events, workdir, start_worker,
                                       stop, cpu_seconds)

    print()
    print("| measure | value |\n|---|---|")
    print(f"| events | {args.events:,} ({args.models} models, 20 numeric + 2 categorical features, "
          f"windows of 1,000) |")
    print(f"| raw aiokafka consume (median of {args.repeat}) | {raw:,.0f} events/s |")
    print(f"| driftline worker | {worker_rate:,.0f} events/s |")
    print(f"| ratio worker / raw | {worker_rate / raw:.3f} |")
    print(f"| faust agent that only counts (first {noop_events:,} events; median of the runs "
          f"before and after the worker) | {noop:,.0f} events/s "
          f"({', '.join(f'{rate:,.0f}' for rate, _ in noop_runs)}) |")
    print(f"| ratio worker / faust no-op | {worker_rate / noop:.2f} |")
    print(f"| the same no-op on the worker's consumer (direct delivery, buffer of "
          f"{get_settings().kafka.stream_buffer_size:,}) | {tuned_rate:,.0f} events/s, "
          f"{tuned_cpu:,.0f} µs CPU per event; worker / it {worker_rate / tuned_rate:.2f} |")
    print(f"| worker CPU per event (user + system, all threads) | {cpu / args.events * 1e6:,.0f} µs "
          f"({cpu / elapsed:.0%} of one core); faust no-op {noop_cpu:,.0f} µs "
          f"({', '.join(f'{c:,.0f}' for _, c in noop_runs)}) |")
    print(f"| produce → drift event latency at {rate:,.0f} events/s | p50 {p50 * 1000:,.0f} ms, "
          f"p99 {p99 * 1000:,.0f} ms ({count} windows) |")
    print(f"| peak RSS after 100,000 events | {rss_100k / 1024:,.0f} MiB |")
    print(f"| peak RSS after {args.events:,} events | {peak / 1024:,.0f} MiB "
          f"({peak / max(rss_100k, 1):.2f}x) |")
    print(f"| changelog bytes written per 1,000 events | {written / (args.events / 1000):,.0f} |")
    print(f"| changelog bytes retained per 1,000 events (after compaction) | "
          f"{changelog / (args.events / 1000):,.0f} |")
    print("| RSS along the run | "
          + ", ".join(f"{k:,}: {v / 1024:,.0f} MiB" for k, v in sorted(samples.items())) + " |")
    print("\n".join(shard_rows))
    if args.profile:
        from bench.profile_summary import summarise

        print()
        print(summarise(args.profile.read_text()))


def start_profiler(pid: int, out: Path) -> subprocess.Popen[bytes]:
    """py-spy sampling the worker (and its threads) until SIGINT, in collapsed-stack form."""
    py_spy = str(Path(sys.executable).parent / "py-spy")
    return subprocess.Popen([py_spy, "record", "-p", str(pid), "-f", "raw", "-r", "100",  # noqa: S603
                             "--nonblocking", "-o", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


if __name__ == "__main__":
    asyncio.run(main())

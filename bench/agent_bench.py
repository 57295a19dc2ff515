"""The feature agent's own CPU per event, in process: no broker, no faust hand-off.

    .venv/bin/python bench/agent_bench.py [--events 100000] [--warmup 20000] [--segment 8000]

``agents.features.process_batch`` on the stream benchmark's events (``bench/stream_bench.py``:
4 models, 20 numeric + 2 categorical features, windows of 1,000, both online detectors), in
batches of ``DRIFT__FEATURE_BATCH_SIZE``, with the feature table in a dict and every send to Kafka
answered at once. The first ``--warmup`` events (references, the detectors' calibration,
the first windows) are not timed; then CPU time is taken per ``--segment`` events and the
median is printed in µs per event, beside the median of bare ``orjson.loads`` of the same
events (what any decoder pays) and their ratio. The stream benchmark's worker pays this plus
faust's per-message work (its no-op agent) plus producing and the sinks; this isolates the
part a change to decoding, windows, tests or detectors moves, on a machine too noisy for the
whole stream benchmark to show a few µs.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import faust  # noqa: E402

import agents.features as features  # noqa: E402
from bench.stream_bench import payloads  # noqa: E402
from faust_app import settings  # noqa: E402
from tables.feature_state import TableStore  # noqa: E402
from tests.unit.observability.conftest import FakeEvent, FakeMessage  # noqa: E402


class MemoryTable(dict[bytes, bytes]):
    name = "feature-state"


async def sent_at_once(self: Any, *args: Any, **kwargs: Any) -> asyncio.Future[None]:
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    done.set_result(None)
    return done


def events_of(n: int, models: int) -> list[FakeEvent]:
    names = [f"m{i}" for i in range(models)]
    partition = {name.encode(): i for i, name in enumerate(names)}
    offsets = [0] * models
    out = []
    for key, value in payloads(names, n):
        p = partition[key]
        out.append(FakeEvent(FakeMessage("features", offset=offsets[p], partition=p, key=key,
                                         value=value)))
        offsets[p] += 1
    return out


async def run(events: list[FakeEvent], warmup: int, segment: int) -> list[float]:
    size = settings.drift.feature_batch_size
    per_event = []
    mark, started = warmup, 0.0
    for i in range(0, len(events), size):
        if i == mark:
            if started:
                per_event.append((time.process_time() - started) / segment * 1e6)
            started, mark = time.process_time(), mark + segment
        await features.process_batch(events[i:i + size])
    return per_event


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--warmup", type=int, default=20_000)
    parser.add_argument("--segment", type=int, default=8_000)
    parser.add_argument("--models", type=int, default=4)
    args = parser.parse_args()
    size = settings.drift.feature_batch_size
    if args.warmup % size or args.segment % size:
        parser.error(f"--warmup and --segment must be multiples of the batch size ({size})")
    if args.events < args.warmup + 2 * args.segment:
        parser.error("--events must leave at least two segments after --warmup")
    TableStore.table = MemoryTable()  # type: ignore[assignment]
    faust.Topic.send = sent_at_once  # type: ignore[method-assign]
    events = events_of(args.events, args.models)
    per_event = asyncio.run(run(events, args.warmup, args.segment))
    agent = statistics.median(per_event)
    values = [e.message.value for e in events[args.warmup:]]
    bare = []
    for _ in range(5):
        started = time.process_time()
        for value in values:
            orjson.loads(value)
        bare.append((time.process_time() - started) / len(values) * 1e6)
    parse = statistics.median(bare)
    print(f"| feature agent, CPU per event (median of {len(per_event)} segments of "
          f"{args.segment:,}) | {agent:.1f} µs |")
    print(f"| segments | {', '.join(f'{v:.1f}' for v in per_event)} |")
    print(f"| bare orjson.loads per event | {parse:.2f} µs |")
    print(f"| ratio agent / bare parse | {agent / parse:.1f} |")


if __name__ == "__main__":
    main()

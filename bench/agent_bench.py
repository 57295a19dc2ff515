"""The feature agent's own CPU per event, in process: no broker, no faust hand-off.

    .venv/bin/python bench/agent_bench.py [--events 100000] [--warmup 20000] [--segment 8000]
                                          [--compare-batch 500]

``agents.features.process_batch`` on the stream benchmark's events (``bench/stream_bench.py``:
4 models, 20 numeric + 2 categorical features, windows of 1,000, both online detectors), in
batches of ``DRIFT__FEATURE_BATCH_SIZE``, with the feature table in a dict and every send to Kafka
answered at once. The first ``--warmup`` events (references, the detectors' calibration,
the first windows) are not timed; then CPU time is taken per ``--segment`` events and the
median is printed in µs per event, beside the median of bare ``orjson.loads`` of the same
events (what any decoder pays) and their ratio. The stream benchmark's worker pays this plus
faust's per-message work (its no-op agent) plus producing and the sinks; this isolates the
part a change to decoding, windows, tests or detectors moves, on a machine too noisy for the
whole stream benchmark to show a few µs. ``--compare-batch N`` runs the same events under
other model names in batches of N too, the two taking turns segment by segment, and prints
the median ratio of their segments.
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


def events_of(n: int, models: int, prefix: str = "m") -> list[FakeEvent]:
    names = [f"{prefix}{i}" for i in range(models)]
    partition = {name.encode(): i for i, name in enumerate(names)}
    offsets = [0] * models
    out = []
    for key, value in payloads(names, n):
        p = partition[key]
        out.append(FakeEvent(FakeMessage("features", offset=offsets[p], partition=p, key=key,
                                         value=value)))
        offsets[p] += 1
    return out


async def segment(events: list[FakeEvent], size: int) -> float:
    """CPU µs per event of ``events`` in batches of ``size``."""
    started = time.process_time()
    for i in range(0, len(events), size):
        await features.process_batch(events[i:i + size])
    return (time.process_time() - started) / len(events) * 1e6


async def run(runs: list[tuple[list[FakeEvent], int]], warmup: int,
              every: int) -> list[list[float]]:
    """Each (events, batch size) warmed up, then timed segment by segment, the runs taking
    turns per segment (so a machine that slows down slows them alike)."""
    for events, size in runs:
        await segment(events[:warmup], size)
    per_event: list[list[float]] = [[] for _ in runs]
    for start in range(warmup, len(runs[0][0]) - every + 1, every):
        for times, (events, size) in zip(per_event, runs, strict=True):
            times.append(await segment(events[start:start + every], size))
    return per_event


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--warmup", type=int, default=20_000)
    parser.add_argument("--segment", type=int, default=8_000)
    parser.add_argument("--models", type=int, default=4)
    parser.add_argument("--compare-batch", type=int, default=None, metavar="N",
                        help="also run other models of the same events in batches of N, "
                             "segment by segment in turn, and print the ratio")
    args = parser.parse_args()
    sizes = [settings.drift.feature_batch_size]
    if args.compare_batch is not None:
        sizes.append(args.compare_batch)
    for size in sizes:
        if args.warmup % size or args.segment % size:
            parser.error(f"--warmup and --segment must be multiples of the batch size ({size})")
    if args.events < args.warmup + 2 * args.segment:
        parser.error("--events must leave at least two segments after --warmup")
    TableStore.table = MemoryTable()  # type: ignore[assignment]
    faust.Topic.send = sent_at_once  # type: ignore[method-assign]
    # a second run reads the same values under other model names: state of its own
    runs = [(events_of(args.events, args.models, prefix), size)
            for prefix, size in zip(("m", "b"), sizes, strict=False)]
    per_event = asyncio.run(run(runs, args.warmup, args.segment))
    values = [e.message.value for e in runs[0][0][args.warmup:]]
    bare = []
    for _ in range(5):
        started = time.process_time()
        for value in values:
            orjson.loads(value)
        bare.append((time.process_time() - started) / len(values) * 1e6)
    parse = statistics.median(bare)
    for (_, size), times in zip(runs, per_event, strict=True):
        agent = statistics.median(times)
        print(f"| feature agent, batches of {size:,}: CPU per event (median of {len(times)} "
              f"segments of {args.segment:,}) | {agent:.1f} µs |")
        print(f"| segments | {', '.join(f'{v:.1f}' for v in times)} |")
        print(f"| ratio agent / bare parse | {agent / parse:.1f} |")
    print(f"| bare orjson.loads per event | {parse:.2f} µs |")
    if len(per_event) == 2:
        pairs = [b / a for a, b in zip(*per_event, strict=True)]
        print(f"| batches of {sizes[1]:,} / {sizes[0]:,} (median of the segments' ratios) | "
              f"{statistics.median(pairs):.2f} |")


if __name__ == "__main__":
    main()

"""Decode-and-validate benchmark: the worker's per-event fast path, against bare JSON parsing.

    .venv/bin/python bench/decode_bench.py [--events 20000] [--repeat 7]

Builds feature events like ``bench/stream_bench.py``'s (20 numeric + 2 categorical features),
then measures, in one run, events/s of ``orjson.loads`` alone (the baseline: what any decoder
pays) and of ``schemas.events.decode`` (parse, validate every field and build the record).
Prints medians over ``--repeat`` runs and the ratio decode / bare parse, so a change to the
records or the validator can be compared run against run on a noisy machine.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from schemas.events import FeatureEvent, decode  # noqa: E402
from schemas.spec import Limits  # noqa: E402


def events(n: int) -> list[bytes]:
    rng = random.Random(1)  # noqa: S311 - benchmark data
    now = datetime.now(UTC).isoformat()
    out = []
    for _ in range(n):
        features: dict[str, object] = {f"x{j}": rng.gauss(0, 1) for j in range(20)}
        features["region"] = rng.choice(["north", "south", "east", "west"])
        features["device"] = rng.choice(["ios", "android", "web"])
        out.append(orjson.dumps({"event_id": str(uuid.uuid4()), "schema_version": 1,
                                 "model_name": "bench", "model_version": "1",
                                 "timestamp": now, "features": features}))
    return out


def rate(fn, raw: list[bytes]) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    for value in raw:
        fn(value)
    return len(raw) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    raw = events(args.events)
    limits = Limits()
    bare, full = [], []
    for _ in range(args.repeat):  # interleaved, so a noisy neighbour hits both alike
        bare.append(rate(orjson.loads, raw))
        full.append(rate(lambda value: decode(value, FeatureEvent, limits), raw))
    b, f = statistics.median(bare), statistics.median(full)
    print("| phase | events/s (median) |")
    print("|---|---|")
    print(f"| orjson.loads only | {b:,.0f} |")
    print(f"| decode + validate + record | {f:,.0f} |")
    print(f"| ratio decode / bare parse | {f / b:.3f} |")


if __name__ == "__main__":
    main()

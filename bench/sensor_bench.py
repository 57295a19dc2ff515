"""What faust's per-message sensor calls cost: faust's ``Monitor``, its
``PrometheusMonitor``, and driftline's ``BatchedPrometheusMonitor`` (observability/sensor.py).

    .venv/bin/python bench/sensor_bench.py [--events 200000] [--repeat 5]

Drives the five hooks faust calls per message (end offset, message in, stream event in and
out, message out) in batches of 500, as ``take_events`` does, with a flush per batch for the
batched sensor; prints the median CPU µs per message and the ratios to faust's ``Monitor``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from faust.sensors.monitor import Monitor
from faust.sensors.prometheus import FaustMetrics, PrometheusMonitor
from faust.types import TP
from prometheus_client import CollectorRegistry

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from observability.sensor import BatchedPrometheusMonitor  # noqa: E402

BATCH = 500


class _Owner:  # faust keeps stream owners in a WeakKeyDictionary
    pass


class _Stream:
    shortlabel = "Stream: Topic: bench-features"
    task_owner = _Owner()


class _Message:
    time_in: float | None = None


def per_message(sensor: Monitor, events: int) -> float:
    """CPU µs per message through every per-message hook of ``sensor``."""
    tp, stream = TP("bench-features", 1), _Stream()
    messages = [_Message() for _ in range(BATCH)]
    flush = getattr(sensor, "flush", None)
    started = time.process_time()
    for batch in range(events // BATCH):
        base = batch * BATCH
        for n, message in enumerate(messages):
            sensor.track_tp_end_offset(tp, base + BATCH)
            sensor.on_message_in(tp, base + n, message)  # type: ignore[arg-type]
        states: list[Any] = [sensor.on_stream_event_in(tp, base + n, stream, None)  # type: ignore[arg-type]
                             for n in range(BATCH)]
        for n, state in enumerate(states):
            sensor.on_stream_event_out(tp, base + n, stream, None, state)  # type: ignore[arg-type]
            sensor.on_message_out(tp, base + n, messages[n])  # type: ignore[arg-type]
        if flush is not None:
            flush()
    return (time.process_time() - started) / (events // BATCH * BATCH) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    makers = {
        "faust Monitor": lambda: Monitor(),
        "faust PrometheusMonitor": lambda: PrometheusMonitor(
            metrics=FaustMetrics.create(CollectorRegistry(), "bench")),
        "driftline BatchedPrometheusMonitor": lambda: BatchedPrometheusMonitor(
            metrics=FaustMetrics.create(CollectorRegistry(), "bench")),
    }
    medians = {name: statistics.median(per_message(make(), args.events)
                                       for _ in range(args.repeat))
               for name, make in makers.items()}
    base = medians["faust Monitor"]
    print("| sensor | CPU µs per message (median) | ratio to faust Monitor |\n|---|---|---|")
    for name, value in medians.items():
        print(f"| {name} | {value:.2f} | {value / base:.2f} |")


if __name__ == "__main__":
    main()

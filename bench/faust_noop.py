"""A faust app whose only agent counts events — the ceiling faust itself puts on a worker.

Run by ``bench/stream_bench.py`` (``python -m faust -A bench.faust_noop worker``); prints
``RATE <events/s> CPU <µs per event>`` once it has seen ``BENCH_EVENTS`` events. Stock faust,
unless ``BENCH_CONSUMER=driftline``: then the worker's app class (its consumer's direct
delivery, streams/delivery.py) and agent buffer (``BENCH_BUFFER`` events).
"""

from __future__ import annotations

import os
import sys
import time

import faust

from cli.worker import freeze_imported_objects

App: type[faust.App] = faust.App
tuned: dict[str, int] = {}
if os.environ.get("BENCH_CONSUMER") == "driftline":
    # faust's ceiling with the worker's consumer: direct delivery and its agent buffer
    from streams.dropped import App

    tuned["stream_buffer_maxsize"] = int(os.environ["BENCH_BUFFER"])

app = App(os.environ["BENCH_APP"], broker=os.environ["BENCH_BROKER"], store="memory://",
          topic_partitions=int(os.environ.get("BENCH_PARTITIONS", "4")),
          web_enabled=False,
          # the driftline worker's fetch size, so the two are compared like for like
          consumer_max_fetch_size=int(os.environ["BENCH_MAX_FETCH_BYTES"]), **tuned)
topic = app.topic(os.environ["BENCH_TOPIC"], key_type=bytes, value_type=bytes,
                  key_serializer="raw", value_serializer="raw")
TARGET = int(os.environ["BENCH_EVENTS"])
state = {"seen": 0, "started": 0.0, "cpu": 0.0}


@app.agent(topic, concurrency=1)
async def count(stream: faust.StreamT[bytes]) -> None:
    # the same batching the driftline agents use
    async for events in stream.take_events(int(os.environ.get("BENCH_BATCH", "2000")), within=1.0):
        if not state["started"]:
            state["started"] = time.monotonic()
            state["cpu"] = time.process_time()  # every thread of the process
            print("STARTED", file=sys.stderr, flush=True)  # stream_bench may attach py-spy now
        state["seen"] += len(events)
        if state["seen"] >= TARGET:
            rate = state["seen"] / (time.monotonic() - state["started"])
            cpu = (time.process_time() - state["cpu"]) / state["seen"] * 1e6
            print(f"RATE {rate:.0f} CPU {cpu:.1f}", file=sys.stderr, flush=True)
            state["seen"] = -(10**12)  # report once


# what the driftline worker does before faust starts, so neither side's collector traverses
# what the imports left alive, and both collect as often
freeze_imported_objects()

"""Messages faust fetched and lost with nothing after them — no later offset ever reveals
the gap — are found by the idle agent's tail check and sought back (streams/gaps.py), on a
real faust consumer and broker."""

from __future__ import annotations

import asyncio
import re
import sys
import time

import pytest

from tests.integration.conftest import Worker, produce

pytestmark = pytest.mark.integration


def handled(log: str) -> list[int]:
    return [int(o) for line in re.findall(r"HANDLED ([\d ]+)", log) for o in line.split()]


def test_the_lost_last_messages_of_a_partition_are_sought_back_and_handled(
        base_env, broker, unique, tmp_path):
    from settings import KafkaSettings
    from streams.admin import ensure_topics

    topic = f"{unique}-tail"
    asyncio.run(ensure_topics(KafkaSettings(broker=broker, partitions=1), [topic]))
    env = {**base_env, "TAIL_APP": unique, "TAIL_BROKER": broker, "TAIL_TOPIC": topic,
           "TAIL_DROP": "7,8,9", "TAIL_DATADIR": str(tmp_path / "data")}
    app = Worker(env, tmp_path / "tail.log", (sys.executable, "-m", "faust", "-A",
                                             "tests.integration.tail_app", "worker", "-l", "info"))
    try:
        app.wait_ready()
        produce(broker, topic, [(b"k", f"event {n}".encode()) for n in range(10)],
                partitions=1)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and sorted(set(handled(app.output()))) != list(range(10)):
            time.sleep(0.5)
        log = app.output()
        assert sorted(set(handled(log))) == list(range(10)), log[-4000:]
        assert all(f"LOST {n}" in log for n in (7, 8, 9)), log[-4000:]  # they were lost once
        assert "ends at offset 10, yet nothing from 7 on reached the agent" in log, log[-4000:]
        assert app.alive
    finally:
        app.stop()

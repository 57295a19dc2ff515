"""An observation the monitor quarantined (it raised when a later batch released it) costs one
dead letter, sent before the agent commits the state that leaves it out."""

from __future__ import annotations

import asyncio
import base64

import faust
import orjson

from agents.publish import publish_output
from monitors.drift_monitor import MonitorOutput, Observation
from schemas.events import DeadLetter


def test_each_quarantined_observation_is_dead_lettered_with_its_values(monkeypatch) -> None:
    sent: list[tuple[str, DeadLetter]] = []

    async def send(self, *, key=None, value: bytes, **kwargs):  # type: ignore[no-untyped-def]
        sent.append((self.get_topic_name(), DeadLetter.loads(value)))
        done = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    monkeypatch.setattr(faust.Topic, "send", send)
    out = MonitorOutput(quarantined=[
        (Observation(offset=41, partition=3, timestamp="2026-01-01T00:00:00+00:00",
                     features={"x": 1.5, "c": "a"}, origin=(0, 7)), "2", "RuntimeError('boom')")])
    asyncio.run(publish_output(b"fraud", out))
    asyncio.run(publish_output(b"fraud", out))  # a publish retried: the letter went already
    assert len(sent) == 1
    topic, letter = sent[0]
    assert topic.endswith("dead-letters")
    assert (letter.topic.endswith("features"), letter.partition, letter.offset) == (True, 3, 41)
    assert letter.reason_code == "internal_error" and "RuntimeError('boom')" in letter.reason
    assert (letter.model_name, letter.model_version) == ("fraud", "2")
    value = orjson.loads(base64.b64decode(letter.value_b64))
    assert value == {"model_name": "fraud", "model_version": "2",
                     "timestamp": "2026-01-01T00:00:00+00:00",
                     "features": {"x": 1.5, "c": "a"}, "origin": [0, 7]}


def test_the_staged_gauge_follows_a_sharded_models_versions(monkeypatch) -> None:
    """What a sharded model holds back is a gauge per (model, version); a forgotten version's
    series goes away (no series piles up as versions come and go)."""
    from agents.publish import STAGED_SERIES, forget_staged, show_staged
    from observability.metrics import REGISTRY

    def value(version: str) -> float | None:
        return REGISTRY.get_sample_value("driftline_staged_events",
                                         {"model": "hot", "version": version})

    show_staged({("hot", "1"): 120, ("hot", "2"): 0})
    assert (value("1"), value("2")) == (120.0, 0.0)
    show_staged({("hot", "1"): None, ("cold", "9"): None})  # "cold" was never sharded
    assert (value("1"), value("2")) == (None, 0.0)
    assert ("hot", "1") not in STAGED_SERIES
    show_staged({("hot", "2"): None})
    assert value("2") is None
    show_staged({("hot", "3"): 5, ("warm", "1"): 0})
    forget_staged()  # a rebalance: the new owner of each reducer sets its series
    assert (value("3"), STAGED_SERIES) == (None, set())

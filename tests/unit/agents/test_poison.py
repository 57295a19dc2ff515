"""Whatever a message holds, the decode-and-apply path of the monitors either applies it or
dead-letters it — never raises, never drops one (property-based, with hypothesis)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import faust
import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agents.features import observation
from agents.monitoring import apply_and_publish, decode_batch, monitor_step
from monitors.drift_monitor import MonitorConfig
from schemas.events import DeadLetter, FeatureEvent
from tests.unit.monitors.test_drift_monitor import DictStore
from tests.unit.observability.conftest import FakeEvent, FakeMessage

CONFIG = MonitorConfig(reference_size=20, window_size=20, min_window_events=5,
                       detectors=("adwin", "page_hinkley"))
NAMES = st.text("abcxyz_", min_size=1, max_size=4)
VALUES = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False, min_value=-1e100, max_value=1e100),
    st.integers(min_value=-(2**63), max_value=2**63 - 1), st.booleans(), st.none(),
    st.text(max_size=40))
#: anything between the validator's bounds, with any offset a zone can have
TIMES = st.builds(
    lambda when, minutes: when.replace(tzinfo=timezone(timedelta(minutes=minutes))).isoformat(),
    st.datetimes(min_value=datetime(1900, 1, 2), max_value=datetime(2199, 12, 30)),
    st.integers(min_value=-14 * 60, max_value=14 * 60))


@st.composite
def valid_events(draw: Any) -> bytes:
    return orjson.dumps({
        "event_id": str(uuid.UUID(int=draw(st.integers(0, 2**128 - 1)))), "schema_version": 1,
        "model_name": draw(st.sampled_from(["m1", "m2"])),
        "model_version": draw(st.sampled_from(["1", "2"])), "timestamp": draw(TIMES),
        "features": draw(st.dictionaries(NAMES, VALUES, min_size=1, max_size=5))})


HOSTILE = st.one_of(
    st.binary(max_size=200),
    st.just(b'{"event_id": "6f1c7a3e-1d2b-4c5d-8e9f-0a1b2c3d4e5f", "schema_version": 1, '
            b'"model_name": "m1", "model_version": "1", '
            b'"timestamp": "0001-01-01T00:00:00+14:00", "features": {"x": 1}}'),
    st.just(b'{"features": {"x": 1e400}}'),
    st.just(b"x" * 300_000),
    st.none())


class Store:
    """The monitor table over a dict, shared by every store the agent code makes."""

    data = DictStore()

    def __init__(self, event: Any) -> None:
        self.event = event

    def get(self, key: bytes) -> bytes | None:
        return self.data.get(key)

    def set(self, key: bytes, value: bytes) -> None:
        self.data.set(key, value)

    def delete(self, key: bytes) -> None:
        self.data.delete(key)


async def run(values: list[bytes | None], letters: list[DeadLetter]) -> set[int]:
    events = [FakeEvent(FakeMessage("features", offset=i, key=None, value=v))
              for i, v in enumerate(values)]
    applied: set[int] = set()
    groups = await decode_batch(events, FeatureEvent, prepare=observation)

    async def published(model: str, out: Any) -> None:
        for event in out.drift_events:  # what is published must be publishable
            orjson.loads(event.dumps())

    for (model, version), items in groups.items():
        def make_step(chosen, model=model, version=version):  # type: ignore[no-untyped-def]
            return monitor_step(model, version, [o for _, o in chosen], CONFIG)

        done = await apply_and_publish(model, items, make_step, "feature monitor", published, Store)
        applied.update(e.message.offset for e, _ in done)
    return applied


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(valid_events(), HOSTILE), min_size=1, max_size=40))
def test_every_message_is_applied_or_dead_lettered_once(values):
    letters: list[DeadLetter] = []

    async def send(self: Any, *, key: Any = None, value: bytes, **kwargs: Any) -> Any:
        letter = DeadLetter.loads(value)
        assert len(value) < 1024 * 1024  # always fits the producer's limit
        letters.append(letter)
        done = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    original = faust.Topic.send
    faust.Topic.send = send  # type: ignore[method-assign]
    try:
        applied = asyncio.run(run(values, letters))
    finally:
        faust.Topic.send = original  # type: ignore[method-assign]
    dead = [letter.offset for letter in letters]
    assert len(dead) == len(set(dead))  # one letter per bad message
    assert applied.isdisjoint(dead)
    assert applied | set(dead) == set(range(len(values)))
    for letter in letters:
        assert letter.reason_code in ("empty", "too_large", "not_json", "invalid")


def test_a_step_that_crashes_on_one_event_costs_that_event_a_dead_letter(caplog) -> None:
    """Not the data's fault but the code's: that event is dead-lettered as an internal error,
    with the exception in the reason and its traceback in the log; the others are grouped."""
    letters: list[DeadLetter] = []

    async def send(self: Any, *, key: Any = None, value: bytes, **kwargs: Any) -> Any:
        letters.append(DeadLetter.loads(value))
        done = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    def prepare(event: Any, record: FeatureEvent) -> Any:
        if event.message.offset == 1:
            raise RuntimeError("boom")
        return observation(event, record)

    good = orjson.dumps({"event_id": str(uuid.uuid4()), "schema_version": 1,
                         "model_name": "m", "model_version": "1",
                         "timestamp": "2026-01-01T00:00:00+00:00", "features": {"x": 1.0}})
    events = [FakeEvent(FakeMessage("features", offset=i, key=b"m", value=good))
              for i in range(3)]
    original = faust.Topic.send
    faust.Topic.send = send  # type: ignore[method-assign]
    try:
        groups = asyncio.run(decode_batch(events, FeatureEvent, prepare=prepare))
    finally:
        faust.Topic.send = original  # type: ignore[method-assign]
    assert [e.message.offset for e, _ in groups[("m", "1")]] == [0, 2]
    assert [(letter.offset, letter.reason_code) for letter in letters] == [(1, "internal_error")]
    assert "RuntimeError('boom')" in letters[0].reason
    failed = [r for r in caplog.records if "decoding features" in r.getMessage()]
    assert failed and failed[0].exc_info and failed[0].exc_info[0] is RuntimeError

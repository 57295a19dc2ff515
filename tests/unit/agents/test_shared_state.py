"""Two agents update the label-join table; their apply → publish → commit steps must not
interleave across the publish wait (found by the performance-stream test on a fresh clone)."""

from __future__ import annotations

import asyncio

from agents.monitoring import apply_and_publish
from monitors.label_join import JoinConfig, LabelIn, LabelJoin, PredictionIn, SourceRef
from tables.feature_state import JoinStore
from tests.unit.monitors.test_drift_monitor import DictStore

SHARED = DictStore()


class SharedJoinStore:
    """The join table's locking, over a dict instead of a faust table (a lock of its own:
    an asyncio lock binds to the first event loop that waits on it)."""

    lock = asyncio.Lock()

    def __init__(self, event) -> None:
        self.event = event

    def get(self, key):
        return SHARED.get(key)

    def set(self, key, value):
        SHARED.set(key, value)

    def delete(self, key):
        SHARED.delete(key)


def source(topic: str, offset: int) -> SourceRef:
    return SourceRef(topic, 0, offset, b"m", b"{}")


def test_the_join_table_serialises_its_writers():
    assert isinstance(JoinStore.lock, asyncio.Lock)


def test_a_label_and_its_prediction_in_concurrent_batches_are_joined_once():
    SHARED.data.clear()
    when = "2026-11-27T10:00:00+00:00"
    prediction = PredictionIn(source("predictions", 0), "p1", "1", when, 1, None, None)
    label = LabelIn(source("labels", 0), "l1", "p1", when, 1, prediction_timestamp=when)
    joined: list[str] = []

    async def publish(model, out):
        for _ in range(5):  # the broker's acknowledgement takes a while
            await asyncio.sleep(0)
        joined.extend(j.prediction_event_id for j in out.joined)

    def step(add):
        return lambda items: lambda store: add(LabelJoin(store, JoinConfig()))

    async def both():
        await asyncio.gather(
            apply_and_publish("m", [(object(), label)],
                              step(lambda j: j.add_labels("m", [label])), "label join",
                              publish, SharedJoinStore),
            apply_and_publish("m", [(object(), prediction)],
                              step(lambda j: j.add_predictions("m", [prediction])), "label join",
                              publish, SharedJoinStore),
        )

    asyncio.run(both())
    assert joined == ["p1"]
    head = LabelJoin(SHARED, JoinConfig())._head("m")
    assert head.label_offset == 0 and head.prediction_offset == 0  # neither commit lost
    assert not [k for k in SHARED.data if k.startswith((b"j|", b"l|"))]  # nothing left waiting


class _Message:
    def __init__(self, headers):
        self.headers = headers


class _Event:
    def __init__(self, headers):
        self.message = _Message(headers)


def test_origin_of_a_rekeyed_copy_is_read_from_its_header():
    from agents.monitoring import REROUTED_HEADER, origin_of

    assert origin_of(_Event([("traceparent", b"x"), (REROUTED_HEADER, b"3:1207")])) == (3, 1207)
    assert origin_of(_Event({REROUTED_HEADER: b"0:5"})) == (0, 5)
    assert origin_of(_Event([])) is None and origin_of(_Event(None)) is None
    assert origin_of(_Event([(REROUTED_HEADER, b"garbage")])) is None  # not ours: ordinary

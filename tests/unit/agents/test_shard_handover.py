"""A shard hands its batch to the reducer as partials that carry each event once, in its
partition's offset order — whatever faust or the offset guard redelivered within the batch."""

from __future__ import annotations

import asyncio

import faust
import orjson

import agents.features as features
from cli.traffic import TrafficSpec, feature_events
from schemas.events import FeatureEvent
from streams.shards import Partial
from tests.unit.observability.conftest import FakeEvent, FakeMessage


def test_a_shards_batch_with_messages_twice_hands_over_each_once_in_order(monkeypatch) -> None:
    """After a seek back (rebalance, offset guard) a batch can hold a partition's messages
    twice or restart lower; the partial carries each offset once, in order."""
    evs = list(feature_events(TrafficSpec(model_name="hot", seed=4), 40))
    offsets = [*range(0, 30), *range(10, 40)]  # sought back to 10 within the batch
    events = [FakeEvent(FakeMessage("features", offset=o, key=b"hot", value=orjson.dumps(evs[o])))
              for o in offsets]
    items = [(e, features.observation(e, FeatureEvent.loads(e.message.value)))
             for e in events]
    sent: list[Partial] = []

    async def send(self, *, key=None, value: bytes, **kwargs):  # type: ignore[no-untyped-def]
        sent.append(Partial.decode(value))
        done = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    monkeypatch.setattr(faust.Topic, "send", send)
    asyncio.run(features.hand_over("hot", "1", items))
    assert [o for p in sent for o in p.offsets] == list(range(40))
    assert [f for p in sent for f in p.features] == [e["features"] for e in evs]

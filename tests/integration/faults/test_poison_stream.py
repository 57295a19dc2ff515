"""Poison among valid traffic on the real broker: messages of ~900 KB (under the broker's
limit, over the producer's once base64'd) and schema-valid extreme timestamps cost one
dead letter each, and every valid event is counted once."""

from __future__ import annotations

import uuid

import orjson
import pytest

from cli.traffic import TrafficSpec, feature_events
from monitors.state import ModelHead, head_key
from tests.integration.conftest import produce, read_to_end, wait_for_changelog

pytestmark = pytest.mark.integration


def test_oversized_and_extreme_messages_cost_one_dead_letter_each(worker_factory, broker,
                                                                  unique):
    model = f"{unique}-m"
    valid = [orjson.dumps(e) for e in feature_events(TrafficSpec(model_name=model, seed=3), 2500)]
    huge = orjson.dumps({"event_id": str(uuid.uuid4()), "schema_version": 1,
                         "model_name": model, "model_version": "1",
                         "timestamp": "2026-11-01T00:00:00+00:00",
                         "features": {"blob": "x" * 900_000}})
    extreme = [orjson.dumps({"event_id": str(uuid.uuid4()), "schema_version": 1,
                             "model_name": model, "model_version": "1", "timestamp": when,
                             "features": {"income": 1.0}})
               for when in ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00")]
    items: list[bytes] = []
    for i, value in enumerate(valid):
        items.append(value)
        if i % 125 == 0:
            items.append(huge)
        if i % 500 == 0:
            items.extend(extreme)
    poison = len(items) - len(valid)
    worker = worker_factory(DRIFT__REFERENCE_SIZE="1000", DRIFT__WINDOW_SIZE="1000",
                            KAFKA__PARTITIONS="1")
    produce(broker, f"{unique}-features", [(model.encode(), v) for v in items], partitions=1)

    key = head_key("f", model, "1")
    state = wait_for_changelog(broker, unique, lambda s: key in s and ModelHead.decode(
        s[key]).seq >= len(valid), timeout=180)
    assert ModelHead.decode(state[key]).seq == len(valid)  # every valid event, once
    assert ModelHead.decode(state[key]).last_offset == len(items) - 1  # and nothing stuck
    letters = [orjson.loads(m.value) for m in read_to_end(broker, f"{unique}-dead-letters")]
    assert len(letters) == poison and len({x["offset"] for x in letters}) == poison
    poisoned = {i for i, v in enumerate(items) if v is huge or v in extreme}
    assert {x["offset"] for x in letters} == poisoned
    big = [x for x in letters if x["reason_code"] == "too_large"]
    assert len(big) == 20 and all(x["value_truncated"] and x["value_size"] == len(huge)
                                  for x in big)
    assert {x["reason_code"] for x in letters} == {"too_large", "invalid"}
    assert worker.alive and "Crashed" not in worker.output()

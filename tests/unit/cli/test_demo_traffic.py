"""The demo's traffic: seeded, valid events, ids distinct per model, labels after predictions."""

from __future__ import annotations

import orjson

from cli.demo import traffic, truth
from schemas.events import FeatureEvent, LabelEvent, PredictionEvent, decode
from settings import Settings

LIMITS = Settings().limits.for_events()
SCHEMAS = {"features": FeatureEvent, "predictions": PredictionEvent, "labels": LabelEvent}


def test_traffic_is_seeded_and_its_ids_are_distinct_per_model():
    a = list(traffic("model-a", 300, shift_at=150))
    again = list(traffic("model-a", 300, shift_at=150))
    b = list(traffic("model-b", 300, shift_at=150))
    def content(items):  # timestamps are relative to now
        return [(topic, {k: v for k, v in e.items() if "timestamp" not in k}) for topic, e in items]

    assert content(a) == content(again)
    ids_a = {event["event_id"] for _, event in a}
    ids_b = {event["event_id"] for _, event in b}
    assert len(ids_a) == len(a)  # one id per event
    assert not ids_a & ids_b  # the sinks are idempotent on event_id: models must not collide
    # the same world for both: only the ids depend on the model
    assert [e.get("features") for _, e in a] == [e.get("features") for _, e in b]


def test_every_event_is_valid_and_each_label_follows_its_prediction():
    items = list(traffic("model-a", 400, shift_at=200))
    seen_predictions: set[str] = set()
    counts = {"features": 0, "predictions": 0, "labels": 0}
    for topic, event in items:
        decode(orjson.dumps(event), SCHEMAS[topic], LIMITS)  # raises on an invalid event
        counts[topic] += 1
        if topic == "predictions":
            seen_predictions.add(event["event_id"])
        elif topic == "labels":
            assert event["prediction_event_id"] in seen_predictions
    assert counts == {"features": 400, "predictions": 400, "labels": 400}


def test_the_world_changes_at_the_shift():
    features = {"x1": 1.0, "x2": -1.0, "region": "south"}
    assert truth(features, changed=False) == "yes"  # x1 + x2/2 > 0
    assert truth(features, changed=True) == "no"  # x2 - x1/2 < 0

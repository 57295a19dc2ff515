from __future__ import annotations

import re
import uuid

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.events import (
    DeadLetter,
    DriftEvent,
    FeatureEvent,
    LabelEvent,
    MetricEvent,
    PredictionEvent,
    dead_letter,
    decode,
)
from schemas.reasons import Reason
from schemas.spec import InvalidEvent, Limits, validate

LIMITS = Limits(max_payload_bytes=4096, max_features=3, max_string_length=16, max_name_length=20)


def feature_event(**overrides):
    event = {
        "event_id": str(uuid.uuid4()),
        "schema_version": 1,
        "model_name": "credit-risk",
        "model_version": "1.2",
        "timestamp": "2026-11-26T10:00:00+00:00",
        "features": {"income": 52000.5, "channel": "web", "age": None},
    }
    event.update(overrides)
    return event


def encode(obj) -> bytes:
    return orjson.dumps(obj)


def test_good_feature_event_round_trips():
    raw = encode(feature_event())
    event = decode(raw, FeatureEvent, LIMITS)
    assert event.features == {"income": 52000.5, "channel": "web", "age": None}
    assert event.time.utcoffset().total_seconds() == 0
    assert orjson.loads(event.dumps()) == orjson.loads(raw)


def test_integers_and_booleans_are_accepted_as_feature_values():
    event = decode(encode(feature_event(features={"n": 3, "flag": True})), FeatureEvent, LIMITS)
    assert event.features == {"n": 3.0, "flag": True}


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "expected a JSON object"),
        (b"", "not valid JSON"),
        (None, "tombstone"),
        (b"x" * 5000, "exceeds 4096"),
    ],
)
def test_undecodable_payloads(raw, reason):
    with pytest.raises(InvalidEvent, match=reason):
        decode(raw, FeatureEvent, LIMITS)


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"event_id": "not-a-uuid"}, "event_id: 'not-a-uuid' is not a UUID"),
        ({"event_id": None}, "event_id: must not be null"),
        ({"schema_version": 2}, "schema_version: 2 is not supported"),
        ({"schema_version": "1"}, "schema_version: expected an integer"),
        ({"model_name": ""}, "model_name: must not be empty"),
        ({"model_name": "a b"}, "model_name: 'a b' has characters outside"),
        ({"model_name": "m" * 21}, "model_name: longer than 20"),
        ({"model_version": 3}, "model_version: expected a string"),
        ({"timestamp": "2026-11-26T10:00:00"}, "timestamp: .* has no time zone"),
        ({"timestamp": "yesterday"}, "timestamp: 'yesterday' is not ISO-8601"),
        ({"features": {}}, "features: must not be empty"),
        ({"features": []}, "features: expected an object"),
        ({"features": {"a": 1, "b": 2, "c": 3, "d": 4}}, "features: 4 entries, more than 3"),
        ({"features": {"a": "x" * 17}}, "features.a: longer than 16"),
        ({"features": {"a": [1]}}, "features.a: expected a number, string, boolean or null"),
        ({"features": {"a": {"b": 1}}}, "features.a: expected a number"),
        ({"features": {"bad key": 1}}, "features key: 'bad key' has characters outside"),
        ({"extra": 1}, "unknown field\\(s\\): extra"),
    ],
)
def test_each_kind_of_bad_field_is_rejected_with_its_reason(overrides, reason):
    with pytest.raises(InvalidEvent, match=reason):
        decode(encode(feature_event(**overrides)), FeatureEvent, LIMITS)


def test_missing_required_field_is_named():
    event = feature_event()
    del event["model_version"]
    with pytest.raises(InvalidEvent, match="model_version: required field missing"):
        decode(encode(event), FeatureEvent, LIMITS)


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity", b"1e999"])
def test_non_finite_numbers_are_rejected(literal):
    raw = encode(feature_event(features={"a": 0})).replace(b'"a":0', b'"a":' + literal)
    with pytest.raises(InvalidEvent):
        decode(raw, FeatureEvent, LIMITS)


def test_prediction_probabilities_must_be_a_distribution():
    base = {k: v for k, v in feature_event().items() if k != "features"}
    good = decode(encode({**base, "prediction": "yes", "probabilities": {"yes": 0.7, "no": 0.3}}),
                  PredictionEvent, LIMITS)
    assert good.prediction == "yes" and good.features is None
    with pytest.raises(InvalidEvent, match="probabilities sum to 1.2"):
        decode(encode({**base, "prediction": "yes", "probabilities": {"yes": 0.7, "no": 0.5}}),
               PredictionEvent, LIMITS)
    with pytest.raises(InvalidEvent, match=r"probabilities.yes: probability 1.3 outside"):
        decode(encode({**base, "prediction": 1, "probabilities": {"yes": 1.3, "no": -0.3}}),
               PredictionEvent, LIMITS)
    with pytest.raises(InvalidEvent, match="prediction: required field missing"):
        decode(encode(base), PredictionEvent, LIMITS)


def test_label_needs_the_prediction_it_answers():
    base = {k: v for k, v in feature_event().items() if k != "features"}
    label = decode(encode({**base, "prediction_event_id": str(uuid.uuid4()), "label": 1}),
                   LabelEvent, LIMITS)
    assert label.label == 1.0
    with pytest.raises(InvalidEvent, match="prediction_event_id: 'p1' is not a UUID"):
        decode(encode({**base, "prediction_event_id": "p1", "label": 1}), LabelEvent, LIMITS)


def test_drift_event_kind_and_severity_are_closed_sets():
    event = {k: v for k, v in feature_event().items() if k != "features"}
    event.update(kind="data_drift", feature="income", test="ks", statistic=0.3, p_value=None,
                 drifted=True, window_start_seq=1000, window_end_seq=2000,
                 window_start_offset=5, window_end_offset=1004,
                 window_start_time=event["timestamp"], window_end_time=event["timestamp"],
                 reference_size=1000, current_size=1000, severity="high")
    assert decode(encode(event), DriftEvent, LIMITS).severity == "high"
    with pytest.raises(InvalidEvent, match="kind: 'weird' not one of"):
        decode(encode({**event, "kind": "weird"}), DriftEvent, LIMITS)
    with pytest.raises(InvalidEvent, match="severity: 'extreme' not one of"):
        decode(encode({**event, "severity": "extreme"}), DriftEvent, LIMITS)


def test_dead_letter_keeps_bytes_and_names_the_model_when_it_can():
    raw = encode(feature_event(model_name="m1", features={}))
    letter = dead_letter(topic="features", partition=2, offset=41, key=b"m1", value=raw,
                         reason="features: must not be empty", app_id="app",
                         clock=lambda: "2026-11-26T10:00:00+00:00")
    again = DeadLetter.loads(letter.dumps())
    assert again.value == raw
    assert again.model_name == "m1" and again.partition == 2 and again.offset == 41
    assert again.reason == "features: must not be empty"
    # the id is stable for a (topic, partition, offset), so re-sending it is idempotent
    assert letter.event_id == dead_letter(topic="features", partition=2, offset=41, key=None,
                                          value=b"garbage", reason="x", app_id="app").event_id
    assert dead_letter(topic="features", partition=None, offset=None, key=None, value=b"\xff",
                       reason="x", app_id="app").model_name is None


# -- the fast paths accept and reject exactly what the per-value checks do ---------------------

_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.floats(min_value=1e307, max_value=1.7e308),
    st.floats(min_value=5e99, max_value=2e100), st.floats(min_value=-2e100, max_value=-5e99),
    st.text(max_size=300), st.sampled_from(["ok", "a\x00b", "caf\u00e9", "\ud800", "x" * 257]),
    st.lists(st.integers(), max_size=2))
_NAMES = st.one_of(st.sampled_from(["x", "y", "region", "bad name", "", "z" * 200]),
                   st.text(max_size=6))


def _outcome(fn):
    try:
        return "ok", fn()
    except InvalidEvent as exc:
        return "invalid", exc.reason


def test_a_missing_value_beside_numbers_is_valid_on_the_fast_path_too() -> None:
    obj = {"event_id": "6f1c7a3e-1d2b-4c5d-8e9f-0a1b2c3d4e5f", "schema_version": 1,
           "model_name": "m", "model_version": "1", "timestamp": "2026-11-01T00:00:00+00:00",
           "features": {"x": 1.5, "y": None, "z": "a"}}
    for _ in range(2):  # the second time every name is known: the fast path
        assert validate(obj, FeatureEvent.FIELDS, Limits())["features"] == obj["features"]
    obj["features"] = {"x": 1.5, "y": None}
    for _ in range(2):
        assert validate(obj, FeatureEvent.FIELDS, Limits())["features"] == obj["features"]


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_NAMES, _VALUES, max_size=8),
       st.one_of(st.uuids().map(str), st.uuids().map(lambda u: str(u).upper()),
                 st.sampled_from(["{12345678-1234-5678-1234-567812345678}", "nope", ""])),
       st.one_of(_NAMES, st.integers()))
def test_fast_paths_give_the_per_value_answers(features, event_id, model) -> None:
    import schemas.spec as spec

    obj = {"event_id": event_id, "schema_version": 1, "model_name": model, "model_version": "1",
           "timestamp": "2026-11-01T00:00:00+00:00", "features": features}
    limits = Limits()
    fast = _outcome(lambda: validate(obj, FeatureEvent.FIELDS, limits))
    saved = (spec._plain_values, spec._CANONICAL_UUID, spec._known)
    try:  # the per-value checks only: no known names, no plain-map or canonical-uuid shortcut
        spec._plain_values = lambda value, limits: False
        spec._CANONICAL_UUID = re.compile(r"(?!)")
        spec._known = {}
        slow = _outcome(lambda: validate(obj, FeatureEvent.FIELDS, limits))
    finally:
        spec._plain_values, spec._CANONICAL_UUID, spec._known = saved
    assert fast == slow


def test_a_dead_letter_always_fits_the_producer_limit():
    from schemas.events import DEAD_LETTER_PREFIX, MAX_DEAD_LETTER_VALUE

    kept = b"x" * MAX_DEAD_LETTER_VALUE
    whole = dead_letter(topic="features", partition=0, offset=7, key=b"m", value=kept,
                        reason="too large", app_id="app", code=Reason.TOO_LARGE)
    assert whole.value == kept and not whole.value_truncated and whole.value_size == len(kept)
    huge = b"y" * 1_000_000  # under the broker's limit; 1.33x as base64 would not be
    cut = dead_letter(topic="features", partition=3, offset=9, key=b"k" * 100_000, value=huge,
                      reason="payload too large", app_id="app", code=Reason.TOO_LARGE)
    assert cut.value_truncated and cut.value_size == 1_000_000
    assert cut.value == huge[:DEAD_LETTER_PREFIX]
    assert "features[3]@9" in cut.reason and cut.reason_code == "too_large"
    assert len(cut.dumps()) < 1024 * 1024 and len(whole.dumps()) < 1024 * 1024


@pytest.mark.parametrize("timestamp", [
    "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "1899-12-31T23:59:59+00:00",
    "2200-01-01T00:00:00+00:00"])
def test_timestamps_outside_a_sane_range_are_invalid(timestamp):
    with pytest.raises(InvalidEvent, match="outside 1900-2200"):
        decode(encode(feature_event(timestamp=timestamp)), FeatureEvent, LIMITS)


@pytest.mark.parametrize("value", [10**400, 1e101, -1e150])
def test_numbers_that_would_overflow_are_invalid(value):
    raw = b'{"event_id": "6f1c7a3e-1d2b-4c5d-8e9f-0a1b2c3d4e5f", "schema_version": 1, ' \
          b'"model_name": "m", "model_version": "1", "timestamp": "2026-01-01T00:00:00+00:00", ' \
          b'"features": {"x": ' + str(value).encode() + b"}}"
    with pytest.raises(InvalidEvent):
        decode(raw, FeatureEvent, LIMITS)


def test_integers_beyond_64_bits_are_invalid():
    event = {"event_id": "6f1c7a3e-1d2b-4c5d-8e9f-0a1b2c3d4e5f", "schema_version": 1,
             "model_name": "m", "model_version": "1",
             "timestamp": "2026-01-01T00:00:00+00:00", "metric": "accuracy", "value": 0.5,
             "sample_size": 2**63, "window_start_seq": 0, "window_end_seq": 1,
             "window_start_time": "2026-01-01T00:00:00+00:00",
             "window_end_time": "2026-01-01T00:00:00+00:00"}
    with pytest.raises(InvalidEvent, match="64-bit"):
        decode(orjson.dumps(event, option=orjson.OPT_PASSTHROUGH_DATACLASS), MetricEvent, LIMITS)

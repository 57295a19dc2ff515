"""Text and depth checks shared by the Kafka path and the API: what a store cannot hold is a
bad record, named by its field, never an error downstream."""

from __future__ import annotations

import pytest

from schemas.events import FeatureEvent
from schemas.redteam import RedTeamResult
from schemas.spec import MAX_DEPTH, InvalidEvent, Limits, check_json, validate

BASE = {"event_id": "0b7c2f9e-8f0e-4a7e-9a51-1d2f3c4b5a69", "schema_version": 1, "model_name": "m",
        "model_version": "1", "timestamp": "2026-01-01T00:00:00+00:00"}


def nested(depth: int) -> dict:
    value: dict = {"leaf": 1}
    for _ in range(depth - 1):
        value = {"x": value}
    return value


@pytest.mark.parametrize("value,reason", [
    ({"a": "x\x00y"}, "NUL"), ({"a\x00": 1}, "NUL"), ({"a": ["\ud800"]}, "surrogate"),
    ({"a": float("nan")}, "finite"), ({"a": [float("inf")]}, "finite"),
    (nested(MAX_DEPTH + 1), "deeper"),
])
def test_bad_json_values_are_refused_naming_the_field(value, reason):
    with pytest.raises(InvalidEvent, match=reason) as info:
        check_json(value, "details")
    assert info.value.reason.startswith("details")


def test_a_hostile_depth_is_refused_without_recursion():
    deep: list = []
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(InvalidEvent, match="deeper"):
        check_json(deep, "body", max_depth=40)


def test_ordinary_values_pass():
    check_json(nested(MAX_DEPTH), "details")
    check_json({"name": "Zoë", "n": [1, 2.5, None, True]}, "details")


@pytest.mark.parametrize("features", [{"city": "a\x00b"}, {"city": "\udc00"}])
def test_feature_strings_a_store_cannot_keep_are_invalid_events(features):
    with pytest.raises(InvalidEvent, match="features.city"):
        validate({**BASE, "features": features}, FeatureEvent.FIELDS, Limits())


def test_red_team_details_get_the_same_checks():
    record = {**BASE, "attack_type": "evasion", "success": True, "severity": "low"}
    with pytest.raises(InvalidEvent, match="details"):
        validate({**record, "details": nested(MAX_DEPTH + 5)}, RedTeamResult.FIELDS, Limits())
    assert validate({**record, "details": {"ok": "yes"}}, RedTeamResult.FIELDS, Limits())["details"]

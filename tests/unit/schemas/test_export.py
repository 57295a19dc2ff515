from __future__ import annotations

import jsonschema
import pytest

from schemas.export import all_schemas
from schemas.spec import Limits
from tests.unit.schemas.test_validation import feature_event

LIMITS = Limits(max_payload_bytes=4096, max_features=3, max_string_length=16, max_name_length=20)


def test_every_event_type_has_a_valid_draft_2020_12_schema():
    schemas = all_schemas(LIMITS)
    assert {"FeatureEvent", "PredictionEvent", "LabelEvent", "RedTeamResult", "DriftEvent",
            "Alert"} <= set(schemas)
    for schema in schemas.values():
        jsonschema.Draft202012Validator.check_schema(schema)


def test_exported_schema_agrees_with_the_validator():
    validator = jsonschema.Draft202012Validator(all_schemas(LIMITS)["FeatureEvent"])
    validator.validate(feature_event())
    for bad in (
        feature_event(extra=1),
        feature_event(features={}),
        feature_event(features={"a": 1, "b": 2, "c": 3, "d": 4}),
        feature_event(features={"a": "x" * 17}),
        feature_event(model_name="has space"),
        feature_event(schema_version=2),
    ):
        with pytest.raises(jsonschema.ValidationError):
            validator.validate(bad)

from __future__ import annotations

from datetime import UTC, datetime

import jsonschema
import orjson
import pytest

from governance.ledger import LedgerState, RetrainPlanner, RetrainRule, manual_trigger
from governance.messages import job_event, retrain_request
from schemas.export import all_schemas
from schemas.governance import PromotionEvent, RetrainTrigger
from schemas.spec import Limits
from tests.unit.schemas.test_validation import feature_event

LIMITS = Limits(max_payload_bytes=4096, max_features=3, max_string_length=16, max_name_length=20)
NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)
LOOP_RECORDS = ("RetrainTrigger", "RetrainRequest", "TrainingJob", "PromotionEvent")


def test_every_event_type_has_a_valid_draft_2020_12_schema():
    schemas = all_schemas(LIMITS)
    assert {"FeatureEvent", "PredictionEvent", "LabelEvent", "RedTeamResult", "DriftEvent",
            "Alert", *LOOP_RECORDS} <= set(schemas)
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


def loop_records() -> dict[str, dict]:
    """One record of each governed-loop type, as the code that publishes them builds it."""
    trigger = RetrainTrigger(event_id="6f0e0c6e-3c63-4c1b-8a7e-1f1f1f1f1f1f", schema_version=1,
                             model_name="m", model_version="1", timestamp=NOW.isoformat(),
                             kind="manual", requested_by="ops", reason="new data")
    decisions, _ = RetrainPlanner("app", lambda m: RetrainRule()).decide(
        [manual_trigger(trigger, offset=0)], LedgerState("m"), NOW)
    request = retrain_request(decisions[0], "reg-m", NOW)
    job = job_event(request=request, job_id="j-1", status="running", progress=0.5,
                    message="training", now=NOW)
    promotion = PromotionEvent(event_id=request.event_id, schema_version=1, model_name="m",
                               model_version="2", timestamp=NOW.isoformat(), decision="promoted",
                               registered_model="reg-m", reason="by hand",
                               criteria={"manual": {"passed": True, "by": "ops"}}, candidate_version="2",
                               champion_version="1")
    return {name: orjson.loads(record.dumps()) for name, record in zip(
        LOOP_RECORDS, (trigger, request, job, promotion), strict=True)}


@pytest.mark.parametrize("name", LOOP_RECORDS)
def test_governed_loop_schemas_accept_what_the_loop_publishes_and_reject_the_rest(name):
    validator = jsonschema.Draft202012Validator(all_schemas(Limits())[name])
    record = loop_records()[name]
    validator.validate(record)
    for bad in ({**record, "unexpected": 1}, {**record, "model_name": "has space"},
                {k: v for k, v in record.items() if k != "event_id"}):
        with pytest.raises(jsonschema.ValidationError):
            validator.validate(bad)


def test_enumerations_of_the_loop_records_are_exported():
    schemas = all_schemas(Limits())
    properties = {name: schemas[name]["properties"] for name in LOOP_RECORDS}
    assert properties["RetrainTrigger"]["kind"]["enum"] == ["manual"]
    assert "manual" in properties["RetrainRequest"]["trigger_kind"]["enum"]
    assert "suppressed_cooldown" in properties["RetrainRequest"]["decision"]["enum"]
    assert "cancelled" in properties["TrainingJob"]["status"]["enum"]
    assert "rolled_back" in properties["PromotionEvent"]["decision"]["enum"]
    record = loop_records()["RetrainRequest"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schemas["RetrainRequest"]).validate(
            {**record, "decision": "maybe"})

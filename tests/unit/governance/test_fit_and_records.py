"""The reference pipeline, the holdout split, the wire records and the messages built on them."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from governance.ledger import Decision, Trigger
from governance.messages import job_event, promotion_alert, retrain_alert, retrain_request
from governance.modelinputs import feature_dicts, infer_task, label_text, training_profiles
from schemas.events import Alert, decode
from schemas.governance import PromotionEvent, RetrainRequest, TrainingJob
from schemas.spec import InvalidEvent, Limits
from storage.governance_repository import LabelledRow, in_holdout, split_rows
from tests.synthetic import labelled_rows
from trainer.fit import fit

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)


def test_task_inference_and_labels():
    assert infer_task(["a", "b"]) == "classification"
    assert infer_task([True, False]) == "classification"
    assert infer_task([0, 1, 1.0]) == "classification"
    assert infer_task([0.5, 1.25, 3.0]) == "regression"
    assert label_text(1.0) == "1" and label_text(True) == "true"
    assert feature_dicts([{"a": None, "b": True, "c": float("nan"), "d": 2}]) == [{"b": "true", "d": 2}]


def test_fit_learns_the_synthetic_relationship_and_rejects_one_class():
    rows = list(labelled_rows("m", 300, relation="flipped", seed=4, end=NOW))
    result = fit([r["features"] for r in rows], [r["label"] for r in rows])
    assert result.task == "classification" and result.metrics["train_accuracy"] > 0.9
    assert set(result.classes) == {"no", "yes"}
    with pytest.raises(ValueError, match="two classes"):
        fit([{"a": 1}, {"a": 2}], ["x", "x"])
    regression = fit([{"a": float(i)} for i in range(50)], [i * 0.37 for i in range(50)])
    # better than predicting the mean (MAE of that is about 4.6 here)
    assert regression.task == "regression" and regression.metrics["train_mae"] < 2.5
    doc = training_profiles([r["features"] for r in rows])
    assert [f["name"] for f in doc["features"]] == ["x1", "x2", "region"]


def test_the_holdout_split_is_deterministic_and_near_its_share():
    ids = [f"00000000-0000-0000-0000-{i:012d}" for i in range(2000)]
    held = [i for i in ids if in_holdout(i, 0.3)]
    assert held == [i for i in reversed(ids) if in_holdout(i, 0.3)][::-1]
    assert 0.25 < len(held) / len(ids) < 0.35
    rows = [LabelledRow(i, NOW, {"a": 1}, "x", "x", None) for i in ids[:100]]
    train, holdout = split_rows(rows, 0.3)
    assert {r.event_id for r in holdout} == {i for i in ids[:100] if in_holdout(i, 0.3)}
    assert len(train) + len(holdout) == 100


def test_records_round_trip_through_validation():
    trigger = Trigger("6f0e0c6e-3c63-4c1b-8a7e-1f1f1f1f1f1f", "m", "1", "data_drift", "x1",
                      "high", NOW, 3, "1:0:1000")
    decision = Decision("0b7f6a3e-1d6e-4c55-9a4f-2b2b2b2b2b2b", trigger, "accepted", "because",
                        "0b7f6a3e-1d6e-4c55-9a4f-2b2b2b2b2b2b", 1, NOW, (trigger,))
    request = retrain_request(decision, "reg-m", NOW)
    limits = Limits()
    again = decode(request.dumps(), RetrainRequest, limits)
    assert again.decision == "accepted" and again.triggers["features"] == ["x1"]
    alert = decode(retrain_alert(request).dumps(), Alert, limits)
    assert alert.kind == "retrain_decision" and alert.subject == "driftline: retrain accepted for m"
    job = job_event(request=request, job_id="j", status="running", progress=0.5, message="m", now=NOW)
    assert decode(job.dumps(), TrainingJob, limits).progress == 0.5
    assert job.event_id == job_event(request=request, job_id="j", status="running", progress=0.501,
                                     message="other", now=NOW).event_id
    promo = PromotionEvent(event_id=request.event_id, schema_version=1, model_name="m",
                           model_version="1", timestamp=NOW.isoformat(), decision="promoted",
                           registered_model="reg-m", reason="r",
                           criteria={"significance": {"passed": True}}, candidate_version="2",
                           champion_version="1")
    assert decode(promo.dumps(), PromotionEvent, limits).criteria["significance"]["passed"]
    assert promotion_alert(promo).details["criterion significance"] == "passed"
    bad = orjson.loads(request.dumps())
    bad["decision"] = "maybe"
    with pytest.raises(InvalidEvent, match="decision"):
        decode(orjson.dumps(bad), RetrainRequest, limits)

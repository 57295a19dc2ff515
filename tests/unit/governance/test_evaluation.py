"""Promotion criteria on known outputs."""

from __future__ import annotations

import numpy as np
import pytest

from governance.evaluation import ModelOutputs, PromotionPolicy, evaluate, model_outputs
from trainer.fit import fit

PASS = {"passed": True}


def outputs(pred, p_true=None, p_top=None):
    return ModelOutputs(np.array(pred, dtype=object),
                        None if p_true is None else np.array(p_true, dtype=float),
                        None if p_top is None else np.array(p_top, dtype=float))


def test_a_clearly_better_classifier_is_promoted_with_evidence():
    y = np.array(["yes", "no"] * 50, dtype=object)
    champion = outputs(["no", "yes"] * 50, [0.2] * 100, [0.8] * 100)  # always wrong
    candidate = outputs(list(y), [0.9] * 100, [0.9] * 100)
    result = evaluate(y, "classification", champion, candidate, PromotionPolicy(), PASS)
    assert result.promote, result.reason
    assert result.criteria["significance"]["candidate_only"] == 100
    assert result.criteria["significance"]["p_value"] < 1e-20
    assert result.criteria["improvement"]["delta"] == 1.0
    assert result.metrics["candidate_accuracy"] == 1.0


def test_no_better_candidate_is_rejected_and_each_failure_is_explained():
    y = np.array(["yes", "no"] * 50, dtype=object)
    same = outputs(list(y), [0.9] * 100, [0.9] * 100)
    result = evaluate(y, "classification", same, same, PromotionPolicy(), PASS)
    assert not result.promote
    assert not result.criteria["improvement"]["passed"]
    assert not result.criteria["significance"]["passed"]
    assert result.reason.startswith("rejected: accuracy 1.000 vs champion 1.000")


def test_drift_confidence_and_holdout_size_can_each_block_a_promotion():
    y = np.array(["yes", "no"] * 10, dtype=object)
    champion = outputs(["no", "yes"] * 10, [0.1] * 20, [0.95] * 20)
    candidate = outputs(list(y), [0.55] * 20, [0.55] * 20)
    result = evaluate(y, "classification", champion, candidate,
                      PromotionPolicy(min_holdout=30, max_confidence_drop=0.1),
                      {"passed": False, "drifted": ["x1"]})
    failed = {k for k, v in result.criteria.items() if not v["passed"]}
    assert failed == {"holdout_size", "training_data_drift", "confidence_stability"}
    assert "['x1']" in result.reason


def test_regression_uses_mae_bootstrap_and_rmse():
    rng = np.random.default_rng(0)
    y = rng.normal(0, 1, 200)
    champion = ModelOutputs(y + rng.normal(0, 1.0, 200))
    candidate = ModelOutputs(y + rng.normal(0, 0.2, 200))
    result = evaluate(y, "regression", champion, candidate, PromotionPolicy(), PASS)
    assert result.promote, result.reason
    assert result.criteria["significance"]["ci"]["high"] < 0
    worse = evaluate(y, "regression", candidate, champion, PromotionPolicy(), PASS)
    assert not worse.promote and not worse.criteria["no_significant_regression"]["passed"]


def test_a_consistent_but_immaterial_log_loss_gap_is_not_a_regression():
    # both models are right on every row; the candidate is a little less sure everywhere, so
    # the paired CI of the gap excludes zero but the gap is ~2% of the champion's loss
    rng = np.random.default_rng(1)
    y = np.array(["yes", "no"] * 100, dtype=object)
    p_champion = rng.uniform(0.75, 0.95, 200)
    p_candidate = p_champion - 0.004
    champion = outputs(list(y), p_champion, p_champion)
    candidate = outputs(list(y), p_candidate, p_candidate)
    result = evaluate(y, "classification", champion, candidate, PromotionPolicy(), PASS)
    guard = result.criteria["no_significant_regression"]
    assert guard["ci"]["low"] > 0.0  # significant ...
    assert guard["passed"] and guard["ci"]["low"] < guard["margin"]  # ... but immaterial
    strict = evaluate(y, "classification", champion, candidate,
                      PromotionPolicy(max_loss_regression=0.0), PASS)
    assert not strict.criteria["no_significant_regression"]["passed"]


def test_a_material_log_loss_regression_blocks_promotion_and_is_explained():
    y = np.array(["yes", "no"] * 100, dtype=object)
    wrong = ["no", "yes"] * 10 + list(y[20:])  # 20 rows the champion gets wrong
    champion = outputs(wrong, [0.3] * 20 + [0.9] * 180, [0.7] * 20 + [0.9] * 180)
    # the candidate fixes those rows but is barely sure of anything: log loss ~0.67 vs ~0.21
    candidate = outputs(list(y), [0.51] * 200, [0.51] * 200)
    result = evaluate(y, "classification", champion, candidate,
                      PromotionPolicy(max_confidence_drop=1.0), PASS)
    assert result.criteria["improvement"]["passed"] and result.criteria["significance"]["passed"]
    guard = result.criteria["no_significant_regression"]
    assert not guard["passed"] and guard["ci"]["low"] > guard["margin"] > 0
    assert not result.promote
    assert "log_loss worse by at least" in result.reason and "10% of the champion's" in result.reason


def test_a_loss_that_is_not_finite_fails_the_guard():
    y = np.array(["yes", "no"] * 50, dtype=object)
    champion = outputs(list(y), [float("nan")] * 100, [0.9] * 100)
    candidate = outputs(list(y), [0.9] * 100, [0.9] * 100)
    result = evaluate(y, "classification", champion, candidate, PromotionPolicy(), PASS)
    assert not result.criteria["no_significant_regression"]["passed"]


@pytest.mark.parametrize("field", ["min_improvement", "max_confidence_drop", "max_loss_regression"])
@pytest.mark.parametrize("value", [-0.1, float("nan"), float("inf")])
def test_a_policy_with_a_negative_or_non_finite_threshold_is_refused(field, value):
    with pytest.raises(ValueError, match=field):
        PromotionPolicy(**{field: value})


def test_model_outputs_of_a_fitted_pipeline():
    x = [{"a": float(i), "c": "u" if i % 3 else "v"} for i in range(60)]
    labels = ["hi" if i >= 30 else "lo" for i in range(60)]
    model = fit(x, labels).model
    y = np.array(labels, dtype=object)
    out = model_outputs(model, x, y, "classification")
    assert out.p_true is not None and out.p_top is not None
    assert np.mean(out.predictions == y) > 0.9
    assert np.all((out.p_top >= 0.5) & (out.p_top <= 1.0))

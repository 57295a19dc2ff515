"""Promotion criteria on known outputs."""

from __future__ import annotations

import numpy as np

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


def test_model_outputs_of_a_fitted_pipeline():
    x = [{"a": float(i), "c": "u" if i % 3 else "v"} for i in range(60)]
    labels = ["hi" if i >= 30 else "lo" for i in range(60)]
    model = fit(x, labels).model
    y = np.array(labels, dtype=object)
    out = model_outputs(model, x, y, "classification")
    assert out.p_true is not None and out.p_top is not None
    assert np.mean(out.predictions == y) > 0.9
    assert np.all((out.p_top >= 0.5) & (out.p_top <= 1.0))

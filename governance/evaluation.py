"""Should a candidate replace the champion? Every criterion, its evidence, and the verdict.

Pure: the promotion agent loads both models and the held-out rows, computes their outputs
with :func:`model_outputs`, runs the drift check, and hands everything to :func:`evaluate`.

Criteria (all must pass to promote):

``holdout_size``
    at least ``min_holdout`` held-out rows.
``improvement``
    classification: accuracy(candidate) − accuracy(champion) ≥ ``min_improvement``;
    regression: the relative MAE reduction ≥ ``min_improvement``.
``significance``
    classification: McNemar's exact test p < ``alpha`` with the candidate ahead;
    regression: the paired-bootstrap CI of the MAE difference lies below zero.
``no_significant_regression``
    the secondary loss (log loss; RMSE for regression) is not materially worse: fails when
    the lower bound of its paired-bootstrap CI (same ``alpha``) of candidate − champion
    exceeds ``max_loss_regression`` × the champion's loss. Without the margin, two models
    that both know the relationship differ by a consistent sliver of confidence on every
    row (a few thousandths of a nat), which a paired test calls significant.
``training_data_drift``
    the candidate's training data does not drift from current production data.
``confidence_stability``
    classification: mean top-class probability of the candidate on the held-out rows is at
    most ``max_confidence_drop`` below the champion's (variances reported too).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from governance.modelinputs import label_text
from governance.significance import BootstrapResult, mcnemar_exact, paired_bootstrap

EPS = 1e-15


@dataclass(frozen=True)
class PromotionPolicy:
    alpha: float = 0.05
    min_improvement: float = 0.01
    bootstrap_samples: int = 1000
    seed: int = 0
    min_holdout: int = 30
    max_confidence_drop: float = 0.1
    #: relative margin: a secondary loss worse by less than this share of the champion's is
    #: not a regression, however significant
    max_loss_regression: float = 0.1

    def __post_init__(self) -> None:
        if not 0.0 < self.alpha < 1.0:
            raise ValueError("alpha must be in (0, 1)")
        for name in ("min_improvement", "max_confidence_drop", "max_loss_regression"):
            if not math.isfinite(getattr(self, name)) or getattr(self, name) < 0:
                raise ValueError(f"{name} must be a finite number >= 0")


@dataclass(frozen=True)
class ModelOutputs:
    """What one model says about the held-out rows."""

    predictions: np.ndarray  # class labels as text, or numbers
    #: probability of the true label and of the top class per row (classification only)
    p_true: np.ndarray | None = None
    p_top: np.ndarray | None = None


def model_outputs(model: Any, x: Sequence[Mapping[str, Any]], y: np.ndarray, task: str) -> ModelOutputs:
    """Predictions (and probabilities, for a classifier) of a fitted pipeline on ``x``."""
    predicted = model.predict(list(x))
    if task != "classification":
        return ModelOutputs(predictions=np.asarray(predicted, dtype=np.float64))
    predictions = np.array([label_text(v) for v in predicted], dtype=object)
    if not hasattr(model, "predict_proba"):
        return ModelOutputs(predictions=predictions)
    proba = np.asarray(model.predict_proba(list(x)), dtype=np.float64)
    classes = [label_text(c) for c in model.classes_]
    index = {c: i for i, c in enumerate(classes)}
    p_true = np.array([proba[r, index[label]] if label in index else 0.0
                       for r, label in enumerate(y)])
    return ModelOutputs(predictions=predictions, p_true=p_true, p_top=proba.max(axis=1))


@dataclass(frozen=True)
class Evaluation:
    promote: bool
    reason: str
    criteria: dict[str, dict[str, Any]] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)


def _criterion(passed: bool, **evidence: Any) -> dict[str, Any]:
    return {"passed": bool(passed), **evidence}


def evaluate(y: np.ndarray, task: str, champion: ModelOutputs, candidate: ModelOutputs,
             policy: PromotionPolicy, drift_check: Mapping[str, Any]) -> Evaluation:
    n = len(y)
    criteria: dict[str, dict[str, Any]] = {
        "holdout_size": _criterion(n >= policy.min_holdout, value=n, minimum=policy.min_holdout),
        "training_data_drift": _criterion(bool(drift_check.get("passed", False)),
                                          **{k: v for k, v in drift_check.items() if k != "passed"}),
    }
    metrics: dict[str, float] = {}
    if n == 0:
        criteria["improvement"] = _criterion(False, note="no held-out rows")
        return _verdict(criteria, metrics)
    if task == "classification":
        _classification(y, champion, candidate, policy, criteria, metrics)
    else:
        _regression(y, champion, candidate, policy, criteria, metrics)
    return _verdict(criteria, metrics)


def _classification(y: np.ndarray, champion: ModelOutputs, candidate: ModelOutputs,
                    policy: PromotionPolicy, criteria: dict[str, dict[str, Any]],
                    metrics: dict[str, float]) -> None:
    right_a = champion.predictions == y
    right_b = candidate.predictions == y
    acc_a, acc_b = float(right_a.mean()), float(right_b.mean())
    metrics.update(champion_accuracy=acc_a, candidate_accuracy=acc_b)
    delta = acc_b - acc_a
    criteria["improvement"] = _criterion(delta >= policy.min_improvement, metric="accuracy",
                                         champion=acc_a, candidate=acc_b, delta=delta,
                                         minimum=policy.min_improvement)
    test = mcnemar_exact(right_a, right_b)
    boot = paired_bootstrap((~right_a).astype(float), (~right_b).astype(float),
                            alpha=policy.alpha, samples=policy.bootstrap_samples, seed=policy.seed)
    criteria["significance"] = _criterion(
        test.p_value < policy.alpha and test.candidate_only > test.champion_only,
        test="mcnemar_exact", alpha=policy.alpha, **test.to_dict(),
        error_rate_delta_ci=boot.to_dict())
    if champion.p_true is not None and candidate.p_true is not None:
        loss_a = -np.log(np.clip(champion.p_true, EPS, 1.0))
        loss_b = -np.log(np.clip(candidate.p_true, EPS, 1.0))
        ll = paired_bootstrap(loss_a, loss_b, alpha=policy.alpha,
                              samples=policy.bootstrap_samples, seed=policy.seed)
        metrics.update(champion_log_loss=float(loss_a.mean()), candidate_log_loss=float(loss_b.mean()))
        criteria["no_significant_regression"] = _regression_guard(
            ll, float(loss_a.mean()), policy, metric="log_loss")
    else:
        criteria["no_significant_regression"] = _criterion(True, note="no probabilities")
    if champion.p_top is not None and candidate.p_top is not None:
        mean_a, mean_b = float(champion.p_top.mean()), float(candidate.p_top.mean())
        criteria["confidence_stability"] = _criterion(
            mean_b >= mean_a - policy.max_confidence_drop,
            champion_mean=mean_a, candidate_mean=mean_b,
            champion_variance=float(champion.p_top.var()),
            candidate_variance=float(candidate.p_top.var()),
            max_drop=policy.max_confidence_drop)
    else:
        criteria["confidence_stability"] = _criterion(True, note="no probabilities")


def _regression(y: np.ndarray, champion: ModelOutputs, candidate: ModelOutputs,
                policy: PromotionPolicy, criteria: dict[str, dict[str, Any]],
                metrics: dict[str, float]) -> None:
    y = np.asarray(y, dtype=np.float64)
    abs_a = np.abs(champion.predictions - y)
    abs_b = np.abs(candidate.predictions - y)
    mae_a, mae_b = float(abs_a.mean()), float(abs_b.mean())
    metrics.update(champion_mae=mae_a, candidate_mae=mae_b)
    relative = (mae_a - mae_b) / mae_a if mae_a > 0 else 0.0
    criteria["improvement"] = _criterion(relative >= policy.min_improvement, metric="mae",
                                         champion=mae_a, candidate=mae_b,
                                         relative_reduction=relative,
                                         minimum=policy.min_improvement)
    mae = paired_bootstrap(abs_a, abs_b, alpha=policy.alpha, samples=policy.bootstrap_samples,
                           seed=policy.seed)
    criteria["significance"] = _criterion(mae.high < 0.0, test="paired_bootstrap_mae",
                                          alpha=policy.alpha, ci=mae.to_dict())
    rmse = paired_bootstrap(abs_a**2, abs_b**2, alpha=policy.alpha,
                            samples=policy.bootstrap_samples, seed=policy.seed, root=True)
    metrics.update(champion_rmse=float(np.sqrt((abs_a**2).mean())),
                   candidate_rmse=float(np.sqrt((abs_b**2).mean())))
    criteria["no_significant_regression"] = _regression_guard(
        rmse, metrics["champion_rmse"], policy, metric="rmse")
    criteria["confidence_stability"] = _criterion(True, note="not a classifier")


def _regression_guard(ci: BootstrapResult, champion_loss: float, policy: PromotionPolicy,
                      *, metric: str) -> dict[str, Any]:
    """Fails when the candidate is significantly worse by more than the margin (the CI's lower
    bound above it) — not a non-inferiority test, which would demand the upper bound below it
    and reject most candidates on a small holdout. A loss that is not finite fails."""
    margin = policy.max_loss_regression * champion_loss
    finite = math.isfinite(ci.low) and math.isfinite(margin)
    return _criterion(finite and not ci.low > margin, metric=metric, champion=champion_loss,
                      margin=margin, max_relative=policy.max_loss_regression, ci=ci.to_dict())


def _verdict(criteria: dict[str, dict[str, Any]], metrics: dict[str, float]) -> Evaluation:
    failed = [name for name, result in criteria.items() if not result["passed"]]
    if failed:
        reason = "rejected: " + "; ".join(_explain(name, criteria[name]) for name in failed)
    else:
        reason = "promoted: every criterion passed (" + ", ".join(criteria) + ")"
    return Evaluation(promote=not failed, reason=reason, criteria=criteria, metrics=metrics)


def _explain(name: str, result: Mapping[str, Any]) -> str:
    if name == "improvement" and "delta" in result:
        return (f"accuracy {result['candidate']:.3f} vs champion {result['champion']:.3f} "
                f"(delta {result['delta']:+.3f} < {result['minimum']})")
    if name == "improvement" and "relative_reduction" in result:
        return (f"MAE {result['candidate']:.4g} vs champion {result['champion']:.4g} "
                f"(reduction {result['relative_reduction']:+.1%} < {result['minimum']:.1%})")
    if name == "significance" and "p_value" in result:
        return f"McNemar p={result['p_value']:.3g} not < {result['alpha']} in the candidate's favour"
    if name == "no_significant_regression" and "margin" in result:
        return (f"{result['metric']} worse by at least {result['ci']['low']:.4g} "
                f"(> margin {result['margin']:.4g} = {result['max_relative']:.0%} of the "
                f"champion's {result['champion']:.4g})")
    if name == "holdout_size":
        return f"{result['value']} held-out rows < {result['minimum']}"
    if name == "training_data_drift":
        return f"candidate's training data drifts from production ({result.get('drifted', [])})"
    if name == "confidence_stability":
        return (f"mean confidence {result.get('candidate_mean', 0):.3f} fell more than "
                f"{result.get('max_drop')} below the champion's {result.get('champion_mean', 0):.3f}")
    return f"{name} failed"

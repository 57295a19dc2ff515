"""Model-quality metrics on a window of labelled predictions (pure numpy).

Classifiers: accuracy, precision, recall and F1 (binary: of the positive class; multiclass:
macro averages), ROC AUC (binary, from the positive-class probability, ties counted half as in
the Mann–Whitney statistic). Regressors: MAE and RMSE.

Examples
--------
>>> import numpy as np
>>> m = classification_metrics(np.array(["a", "b", "a"]), np.array(["a", "b", "b"]))
>>> round(m["accuracy"], 4)
0.6667
>>> regression_metrics(np.array([1.0, 2.0]), np.array([1.5, 2.0]))["mae"]
0.25
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata

HIGHER_IS_BETTER = {"accuracy": True, "precision": True, "recall": True, "f1": True,
                    "roc_auc": True, "mae": False, "rmse": False}


def _safe_div(num: float, den: float) -> float:
    return num / den if den else 0.0


def classification_metrics(
    labels: np.ndarray,
    predictions: np.ndarray,
    positive_scores: np.ndarray | None = None,
    positive: str | None = None,
) -> dict[str, float]:
    """Metrics for class labels given as strings; ``positive_scores`` enable ROC AUC."""
    labels = np.asarray(labels, dtype=object)
    predictions = np.asarray(predictions, dtype=object)
    if labels.shape != predictions.shape or labels.size == 0:
        raise ValueError("labels and predictions must be non-empty and the same length")
    classes: Sequence[object] = sorted(set(labels.tolist()) | set(predictions.tolist()), key=str)
    out = {"accuracy": float(np.mean(labels == predictions))}
    if positive is not None or len(classes) <= 2:
        pos = positive if positive is not None else classes[-1]
        tp = float(np.sum((predictions == pos) & (labels == pos)))
        fp = float(np.sum((predictions == pos) & (labels != pos)))
        fn = float(np.sum((predictions != pos) & (labels == pos)))
        precision, recall = _safe_div(tp, tp + fp), _safe_div(tp, tp + fn)
        out.update(precision=precision, recall=recall,
                   f1=_safe_div(2 * precision * recall, precision + recall))
        if positive_scores is not None:
            auc = roc_auc(labels == pos, np.asarray(positive_scores, dtype=float))
            if auc is not None:
                out["roc_auc"] = auc
    else:
        per_class = []
        for c in classes:
            tp = float(np.sum((predictions == c) & (labels == c)))
            fp = float(np.sum((predictions == c) & (labels != c)))
            fn = float(np.sum((predictions != c) & (labels == c)))
            p, r = _safe_div(tp, tp + fp), _safe_div(tp, tp + fn)
            per_class.append((p, r, _safe_div(2 * p * r, p + r)))
        arr = np.array(per_class)
        out.update(precision=float(arr[:, 0].mean()), recall=float(arr[:, 1].mean()),
                   f1=float(arr[:, 2].mean()))
    return out


def roc_auc(is_positive: np.ndarray, scores: np.ndarray) -> float | None:
    """Area under the ROC curve; None when only one class is present."""
    is_positive = np.asarray(is_positive, dtype=bool)
    n_pos = int(is_positive.sum())
    n_neg = is_positive.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = rankdata(scores)
    return float((ranks[is_positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def regression_metrics(labels: np.ndarray, predictions: np.ndarray) -> dict[str, float]:
    labels = np.asarray(labels, dtype=float)
    predictions = np.asarray(predictions, dtype=float)
    if labels.shape != predictions.shape or labels.size == 0:
        raise ValueError("labels and predictions must be non-empty and the same length")
    error = predictions - labels
    return {"mae": float(np.mean(np.abs(error))), "rmse": float(np.sqrt(np.mean(error**2)))}


@dataclass(frozen=True)
class Judgement:
    """How a window's metric compares with its reference.

    ``drop`` is how much worse it is, in the metric's unit (positive: worse);
    ``threshold`` what it had to exceed — the larger of the sampling band and the minimum
    effect; ``band`` the sampling band alone.
    """

    dropped: bool
    drop: float
    threshold: float
    band: float
    severity: str


@dataclass(frozen=True)
class DropRule:
    """One alert rule for performance, realized or estimated: significant *and* material.

    A window's metric has dropped when it is worse than the reference by more than
    ``sigmas`` standard deviations of the metric at the window's size (the sampling band,
    from :mod:`drift.estimation.baseline`) **and** by at least ``min_drop`` — absolute for
    metrics on a 0–1 scale (accuracy, precision, recall, F1, ROC AUC), a fraction of the
    reference for errors (MAE, RMSE). Severity is ``high`` past twice the threshold.

    Examples
    --------
    >>> rule = DropRule(sigmas=3.0, min_drop=0.01)
    >>> rule.judge("accuracy", 0.915, 0.943, sd=0.0033).dropped  # 2.8 points, n = 5,000
    True
    >>> rule.judge("accuracy", 0.915, 0.943, sd=0.0104).dropped  # the same, n = 500
    False
    >>> rule.judge("mae", 10.5, 10.0, sd=0.01).dropped  # 5 % worse, well past the band
    True
    """

    sigmas: float = 3.0
    min_drop: float = 0.01

    def __post_init__(self) -> None:
        if not self.sigmas > 0 or not self.min_drop >= 0:
            raise ValueError("sigmas must be > 0 and min_drop >= 0")

    def judge(self, metric: str, value: float, reference: float, sd: float) -> Judgement:
        higher = HIGHER_IS_BETTER[metric]
        drop = reference - value if higher else value - reference
        minimum = self.min_drop if higher else self.min_drop * abs(reference)
        band = self.sigmas * (sd if np.isfinite(sd) else 0.0)
        threshold = max(band, minimum)
        dropped = bool(drop > threshold)
        severity = ("high" if drop > 2 * threshold else "medium") if dropped else "none"
        return Judgement(dropped, float(drop), float(threshold), float(band), severity)

"""Confidence-based performance estimation (CBPE): a classifier's metrics without labels.

With calibrated probabilities ``q`` (see :mod:`drift.estimation.calibration`) each row's
true class is a draw from ``q``, so the confusion matrix of a window has an expectation
that needs no label: for a binary model predicting ŷ, E[TP] = Σ q·[ŷ = +], E[FP] =
Σ (1 − q)·[ŷ = +], E[FN] = Σ q·[ŷ = −], E[TN] = Σ (1 − q)·[ŷ = −]; accuracy, precision,
recall and F1 follow (multiclass: one-vs-rest per class, macro averages). ROC AUC is the
expected number of correctly ordered (positive, negative) pairs over the expected number of
pairs, on the model's own scores. The interval is the central ``level`` range of the metric
over labels simulated from ``q`` — where the realized value falls if the calibration holds.

This is the method of NannyML's CBPE; its one assumption is that the relation between
probabilities and outcomes learnt on the reference still holds (covariate shift, not
concept drift). Pure numpy; the simulation is seeded, so equal inputs give equal outputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from drift.estimation.metrics import (
    CLASSIFICATION_METRICS,
    FloatArray,
    IntArray,
    average_ranks,
    classification_batch,
)


@dataclass(frozen=True, slots=True)
class Estimate:
    """A metric estimated without labels, with its sampling interval."""

    value: float
    lower: float
    upper: float


def _expected_auc(q: FloatArray, scores: FloatArray) -> float:
    """E[concordant pairs] / E[pairs], a row never paired with itself."""
    order = np.argsort(scores, kind="stable")
    s, p = scores[order], q[order]
    negative = 1.0 - p
    _, start, counts = np.unique(s, return_index=True, return_counts=True)
    group_negative = np.add.reduceat(negative, start)
    below = np.concatenate(([0.0], np.cumsum(group_negative)[:-1]))
    group = np.repeat(np.arange(start.size), counts)
    # strictly lower scores count whole, equal scores (other rows) half
    credit = below[group] + 0.5 * (group_negative[group] - negative)
    pairs = p.sum() * negative.sum() - float(np.sum(p * negative))
    return float(np.sum(p * credit) / pairs) if pairs > 0 else float("nan")


def estimate_classification(calibrated: FloatArray, predicted: IntArray,
                            scores: FloatArray | None, positive: int | None,
                            metrics: Sequence[str] = CLASSIFICATION_METRICS, *,
                            samples: int = 200, level: float = 0.95,
                            seed: int = 0) -> dict[str, Estimate]:
    """Estimated metrics of one window.

    Parameters
    ----------
    calibrated : array ``n × k``
        Calibrated class probabilities (rows sum to 1).
    predicted : int array ``n``
        The model's predicted class, as a column index.
    scores : array ``n × k``, optional
        The model's raw probabilities, whose order ROC AUC judges (``None``: no AUC).
    positive : int, optional
        Binary models: the positive class's column (precision, recall, F1 and AUC are of
        it); ``None`` for macro averages over all classes.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> p = rng.uniform(0.5, 1.0, 20_000)            # calibrated confidence in the prediction
    >>> q = np.column_stack([1 - p, p])               # the model always predicts class 1
    >>> est = estimate_classification(q, np.ones(20_000, dtype=np.int64), None, 1, ["accuracy"])
    >>> round(est["accuracy"].value, 2), est["accuracy"].lower < 0.75 < est["accuracy"].upper
    (0.75, True)
    """
    q = np.asarray(calibrated, dtype=np.float64)
    predicted = np.asarray(predicted, dtype=np.int64)
    n, k = q.shape
    if n == 0:
        raise ValueError("no rows to estimate on")
    wanted = [m for m in metrics if m != "roc_auc" or scores is not None]
    point: dict[str, float] = {}
    said = np.zeros((n, k), dtype=bool)
    said[np.arange(n), predicted] = True
    point["accuracy"] = float(q[np.arange(n), predicted].mean())
    classes = [positive] if positive is not None else list(range(k))
    per_class = []
    for c in classes:
        tp = float(np.sum(q[:, c] * said[:, c]))
        fp = float(np.sum((1 - q[:, c]) * said[:, c]))
        fn = float(np.sum(q[:, c] * ~said[:, c]))
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class.append((precision, recall, f1))
    for i, name in enumerate(("precision", "recall", "f1")):
        point[name] = float(np.mean([values[i] for values in per_class]))
    ranks = None
    if scores is not None:
        raw = np.asarray(scores, dtype=np.float64)
        aucs = [_expected_auc(q[:, c], raw[:, c]) for c in classes]
        point["roc_auc"] = float(np.nanmean(aucs))
        ranks = average_ranks(raw[:, positive] if positive is not None else raw.T).T
        ranks = ranks[None, ...]
    # labels drawn from the calibrated probabilities, all replicates at once
    rng = np.random.default_rng(seed)
    cumulative = np.cumsum(q, axis=1)
    draws = rng.random((samples, n, 1))
    labels = np.minimum((draws > cumulative[None, :, :]).sum(axis=2), k - 1)
    simulated = classification_batch(labels, predicted[None, :], ranks, k, positive, wanted)
    tail = (1.0 - level) / 2 * 100
    out = {}
    for name in wanted:
        lower, upper = np.nanpercentile(simulated[name], [tail, 100 - tail])
        value = point[name]
        out[name] = Estimate(value, float(min(lower, value)), float(max(upper, value)))
    return out

"""Classification and regression metrics over many samples at once (replicates × rows).

The estimate's interval simulates labels from calibrated probabilities, and the sampling
band of the alert rule resamples the reference; both need the same metric computed hundreds
of times. These functions take ``B × n`` arrays and return ``B`` values per metric, with the
definitions of :mod:`drift.performance`: binary precision, recall and F1 of the positive
class, multiclass macro averages, ROC AUC as the Mann–Whitney statistic (ties count half;
multiclass: the macro average of one-vs-rest AUCs), MAE and RMSE.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

CLASSIFICATION_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc")
REGRESSION_METRICS = ("mae", "rmse")
HIGHER_IS_BETTER = {"accuracy": True, "precision": True, "recall": True, "f1": True,
                    "roc_auc": True, "mae": False, "rmse": False}


def _div(num: FloatArray, den: FloatArray) -> FloatArray:
    out = np.zeros(np.broadcast(num, den).shape)
    np.divide(num, den, out=out, where=den != 0)
    return out


def average_ranks(scores: FloatArray) -> FloatArray:
    """1-based ranks along the last axis, ties given their average rank (as scipy)."""
    from scipy.stats import rankdata

    return np.asarray(rankdata(scores, axis=-1), dtype=np.float64)


def classification_batch(labels: IntArray, predicted: IntArray, ranks: FloatArray | None,
                         n_classes: int, positive: int | None,
                         metrics: Sequence[str] = CLASSIFICATION_METRICS,
                         ) -> dict[str, FloatArray]:
    """Metrics of ``B`` samples: ``labels`` ``B × n`` class indices; ``predicted`` and
    ``ranks`` ``B × n`` or ``1 × n`` (broadcast); ``ranks`` are the average ranks of the
    positive-class score (binary, ``B × n``) or of each class's score (``B × n × k``)."""
    out: dict[str, FloatArray] = {}
    if "accuracy" in metrics:
        out["accuracy"] = np.mean(labels == predicted, axis=-1)
    classes = [positive] if positive is not None else list(range(n_classes))
    per_class = []
    for k in classes:
        is_k, said_k = labels == k, predicted == k
        tp = np.sum(is_k & said_k, axis=-1).astype(np.float64)
        fp = np.sum(~is_k & said_k, axis=-1).astype(np.float64)
        fn = np.sum(is_k & ~said_k, axis=-1).astype(np.float64)
        precision, recall = _div(tp, tp + fp), _div(tp, tp + fn)
        per_class.append((precision, recall, _div(2 * precision * recall, precision + recall)))
    for i, name in enumerate(("precision", "recall", "f1")):
        if name in metrics:
            out[name] = np.mean([values[i] for values in per_class], axis=0)
    if "roc_auc" in metrics and ranks is not None:
        aucs = []
        for k in classes:
            is_k = (labels == k)
            r = ranks if positive is not None else ranks[..., k]
            n_pos = is_k.sum(axis=-1).astype(np.float64)
            n_neg = is_k.shape[-1] - n_pos
            rank_sum = np.sum(np.where(is_k, r, 0.0), axis=-1)
            with np.errstate(invalid="ignore", divide="ignore"):
                aucs.append((rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
        out["roc_auc"] = np.nanmean(aucs, axis=0) if len(aucs) > 1 else aucs[0]
    return out


def regression_batch(targets: FloatArray, predictions: FloatArray,
                     metrics: Sequence[str] = REGRESSION_METRICS) -> dict[str, FloatArray]:
    error = np.asarray(predictions, dtype=np.float64) - np.asarray(targets, dtype=np.float64)
    out: dict[str, FloatArray] = {}
    if "mae" in metrics:
        out["mae"] = np.mean(np.abs(error), axis=-1)
    if "rmse" in metrics:
        out["rmse"] = np.sqrt(np.mean(error**2, axis=-1))
    return out

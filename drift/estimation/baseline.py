"""What a window's performance is judged against: the reference's value and its sampling
spread at the window's size.

A window of 500 predictions measures accuracy to about ±0.013 (one standard error at 90 %),
one of 50,000 to about ±0.0013; a fixed margin alerts on noise for the first and misses a
real 3-point loss for the second. The band therefore comes from the reference itself: the
standard deviation of the metric over resamples of the reference of the window's size
(a seeded bootstrap), which the drop rule (:class:`drift.performance.DropRule`) multiplies.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from drift.estimation.metrics import (
    CLASSIFICATION_METRICS,
    REGRESSION_METRICS,
    FloatArray,
    IntArray,
    average_ranks,
    classification_batch,
    regression_batch,
)


@dataclass(frozen=True)
class Baseline:
    """Reference values of each metric and their standard deviation at ``size`` rows."""

    values: Mapping[str, float]
    spread: Mapping[str, float]
    size: int
    reference_rows: int

    def to_dict(self) -> dict[str, object]:
        return {"values": dict(self.values), "spread": dict(self.spread), "size": self.size,
                "reference_rows": self.reference_rows}

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Baseline:
        values, spread = data["values"], data["spread"]
        assert isinstance(values, dict) and isinstance(spread, dict)
        return cls({str(k): float(v) for k, v in values.items()},
                   {str(k): float(v) for k, v in spread.items()},
                   int(data["size"]), int(data["reference_rows"]))  # type: ignore[call-overload]


def _bootstrap(rows: int, size: int, samples: int, seed: int,
               measure: Callable[[IntArray], Mapping[str, FloatArray]],
               ) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    spread: dict[str, list[float]] = {}
    block = max(1, 2_000_000 // max(size, 1))  # bound memory: replicates × size per block
    for start in range(0, samples, block):
        index = rng.integers(0, rows, size=(min(block, samples - start), size))
        for name, values in measure(index).items():
            spread.setdefault(name, []).extend(values.tolist())
    return {name: float(np.nanstd(values, ddof=1)) for name, values in spread.items()}


def classification_baseline(labels: IntArray, predicted: IntArray, scores: FloatArray | None,
                            n_classes: int, positive: int | None, size: int,
                            metrics: Sequence[str] = CLASSIFICATION_METRICS, *,
                            samples: int = 300, seed: int = 0) -> Baseline:
    """Realized metrics of a labelled reference and their spread over ``size``-row
    resamples. ``scores``: ``n`` positive-class scores (binary) or ``n × k``."""
    labels = np.asarray(labels, dtype=np.int64)
    predicted = np.asarray(predicted, dtype=np.int64)
    raw = None if scores is None else np.asarray(scores, dtype=np.float64)
    wanted = [m for m in metrics if m != "roc_auc" or raw is not None]

    def ranks_of(s: FloatArray | None) -> FloatArray | None:
        if s is None:
            return None
        if positive is not None:  # (..., n) positive-class scores
            return average_ranks(s)
        return np.moveaxis(average_ranks(np.moveaxis(s, -1, -2)), -1, -2)  # per class

    full = classification_batch(labels[None, :], predicted[None, :],
                                ranks_of(None if raw is None else raw[None, ...]),
                                n_classes, positive, wanted)

    def measure(index: IntArray) -> Mapping[str, FloatArray]:
        return classification_batch(labels[index], predicted[index],
                                    ranks_of(None if raw is None else raw[index]),
                                    n_classes, positive, wanted)

    return Baseline({k: float(v[0]) for k, v in full.items()},
                    _bootstrap(labels.size, size, samples, seed, measure), size, labels.size)


def regression_baseline(targets: FloatArray, predictions: FloatArray, size: int,
                        metrics: Sequence[str] = REGRESSION_METRICS, *,
                        samples: int = 300, seed: int = 0) -> Baseline:
    targets = np.asarray(targets, dtype=np.float64)
    predictions = np.asarray(predictions, dtype=np.float64)
    full = regression_batch(targets, predictions, metrics)

    def measure(index: IntArray) -> Mapping[str, FloatArray]:
        return regression_batch(targets[index], predictions[index], metrics)

    return Baseline({k: float(v) for k, v in full.items()},
                    _bootstrap(targets.size, size, samples, seed, measure), size, targets.size)

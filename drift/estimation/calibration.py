"""Isotonic calibration of a classifier's probabilities on a labelled reference.

CBPE is only as good as the probabilities it reads: a model that says 0.9 must be right nine
times in ten. :func:`fit_calibration` fits one isotonic regression per class (one-vs-rest;
for a binary model, on the positive class) with scikit-learn, on the reference's predicted
probabilities against its labels, and keeps only the fitted step function's knots. Applying
it (:meth:`Calibration.apply`) is a linear interpolation in numpy, so the stream applies a
calibration without loading scikit-learn, and the knots travel as JSON.

scikit-learn is the only library this package adds to ``drift/``'s numpy and scipy, imported
when a calibration is fitted; like the rest of ``drift/`` it does no I/O, reads no clock and
no environment.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class Calibration:
    """Per-class isotonic maps from a raw probability to a calibrated one.

    ``classes`` in column order; ``knots[c]`` is the (x, y) step function of class ``c``.
    A binary calibration (``positive`` set) has one map, for the positive class; the other
    class's probability is its complement.
    """

    classes: tuple[str, ...]
    knots: Mapping[str, tuple[tuple[float, ...], tuple[float, ...]]]
    positive: str | None
    reference_rows: int

    @property
    def binary(self) -> bool:
        return self.positive is not None

    def apply(self, probabilities: FloatArray) -> FloatArray:
        """Calibrated probabilities, ``n × k`` in ``classes`` order (rows sum to 1).

        ``probabilities`` is ``n × k`` in the same order (for a binary model, ``n`` positive-
        class probabilities are accepted too).
        """
        raw = np.asarray(probabilities, dtype=np.float64)
        if self.binary:
            positive = raw if raw.ndim == 1 else raw[:, self.classes.index(self.positive or "")]
            p = _interp(positive, self.knots[self.positive or ""])
            out = np.empty((p.size, 2))
            index = self.classes.index(self.positive or "")
            out[:, index] = p
            out[:, 1 - index] = 1.0 - p
            return out
        columns = [_interp(raw[:, i], self.knots[c]) for i, c in enumerate(self.classes)]
        calibrated = np.column_stack(columns)
        total = calibrated.sum(axis=1, keepdims=True)
        # a row the maps send to all zeros keeps its raw probabilities rather than dividing by 0
        safe = np.where(total > 0, calibrated / np.where(total > 0, total, 1.0), raw)
        return np.asarray(safe, dtype=np.float64)

    def to_dict(self) -> dict[str, Any]:
        return {"method": "isotonic", "classes": list(self.classes), "positive": self.positive,
                "reference_rows": self.reference_rows,
                "knots": {c: [list(x), list(y)] for c, (x, y) in self.knots.items()}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Calibration:
        if data.get("method") != "isotonic":
            raise ValueError(f"unknown calibration method {data.get('method')!r}")
        knots = {str(c): (tuple(map(float, xy[0])), tuple(map(float, xy[1])))
                 for c, xy in data["knots"].items()}
        return cls(tuple(map(str, data["classes"])), knots,
                   None if data.get("positive") is None else str(data["positive"]),
                   int(data["reference_rows"]))


def _interp(x: FloatArray, knots: tuple[tuple[float, ...], tuple[float, ...]]) -> FloatArray:
    xs, ys = knots
    if len(xs) == 1:
        return np.full(np.shape(x), ys[0])
    return np.asarray(np.interp(x, xs, ys), dtype=np.float64)  # clips outside, as sklearn's


def fit_calibration(probabilities: FloatArray, labels: Sequence[str] | NDArray[Any],
                    classes: Sequence[str], positive: str | None = None) -> Calibration:
    """Fit isotonic maps on a labelled reference.

    Parameters
    ----------
    probabilities : array, ``n × k``
        The model's probabilities, columns in ``classes`` order (binary: ``n`` positive-class
        probabilities are accepted when ``positive`` is given).
    labels : sequence of str
        The true classes.
    classes : sequence of str
        Column order; at least two.
    positive : str, optional
        Binary models: the class whose probability is calibrated.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> p = rng.random(20_000)
    >>> y = np.where(rng.random(20_000) < p ** 2, "b", "a")  # the model is overconfident in b
    >>> cal = fit_calibration(p, y, ["a", "b"], positive="b")
    >>> np.round(cal.apply(np.array([0.5, 0.9]))[:, 1], 1).tolist()
    [0.2, 0.8]
    """
    from sklearn.isotonic import IsotonicRegression

    classes = [str(c) for c in classes]
    if len(classes) < 2 or len(set(classes)) != len(classes):
        raise ValueError("calibration needs at least two distinct classes")
    labels = np.asarray([str(v) for v in labels], dtype=object)
    raw = np.asarray(probabilities, dtype=np.float64)
    if positive is not None and raw.ndim == 1:
        if len(classes) != 2:
            raise ValueError("one probability column is for binary models only")
        positive_column = raw
        raw = np.empty((raw.size, 2))
        raw[:, classes.index(positive)] = positive_column
        raw[:, 1 - classes.index(positive)] = 1.0 - positive_column
    if raw.ndim != 2 or raw.shape != (labels.size, len(classes)):
        raise ValueError("probabilities must be n × k, one column per class")
    if labels.size < 2:
        raise ValueError("calibration needs labelled reference rows")
    if not np.all(np.isfinite(raw)) or raw.min() < 0.0 or raw.max() > 1.0:
        raise ValueError("probabilities must lie in [0, 1]")
    unknown = sorted(set(labels.tolist()) - set(classes))
    if unknown:
        raise ValueError(f"labels {unknown[:5]} are not among the classes {classes}")
    targets = [positive] if positive is not None else classes
    knots = {}
    for c in targets:
        column = raw[:, classes.index(c)]
        model = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
        model.fit(column, (labels == c).astype(np.float64))
        knots[c] = (tuple(float(v) for v in model.X_thresholds_),
                    tuple(float(v) for v in model.y_thresholds_))
    return Calibration(tuple(classes), knots, positive, int(labels.size))

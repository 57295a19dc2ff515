"""Tests on category counts: chi², Jensen–Shannon distance, and the count alignment they share."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from numpy.typing import NDArray

from drift.special import chi2_sf

FloatArray = NDArray[np.float64]


def align_counts(
    reference: Mapping[str, int],
    reference_missing: int,
    current: Mapping[str, int],
    current_missing: int,
) -> tuple[tuple[str | None, ...], FloatArray, FloatArray]:
    """Put both sides' counts on one list of categories.

    Categories come in the reference's order, then categories only the current side has
    (unseen, sorted), then ``None`` standing for missing values — a category of its own.

    Examples
    --------
    >>> names, ref, cur = align_counts({"a": 3, "b": 1}, 0, {"a": 2, "c": 2}, 1)
    >>> names, ref.tolist(), cur.tolist()
    (('a', 'b', 'c', None), [3.0, 1.0, 0.0, 0.0], [2.0, 0.0, 2.0, 1.0])
    """
    unseen = sorted(set(current) - set(reference))
    names: tuple[str | None, ...] = (*reference, *unseen, None)
    ref = np.array([*reference.values(), *(0 for _ in unseen), reference_missing], dtype=np.float64)
    cur = np.array(
        [*(current.get(name, 0) for name in reference), *(current[name] for name in unseen),
         current_missing],
        dtype=np.float64,
    )
    return names, ref, cur


def chi2_2xk(reference: FloatArray, current: FloatArray) -> tuple[float, float, int]:
    """Pearson chi² on the 2×k table of counts, without continuity correction.

    Equal to ``scipy.stats.chi2_contingency([reference, current], correction=False)``
    once categories with a zero total on both sides are dropped (scipy refuses them: they
    have an expected count of zero and carry no information). Returns
    ``(statistic, p_value, dof)``; one category left means dof 0, statistic 0, p-value 1.

    Examples
    --------
    >>> import numpy as np
    >>> stat, p, dof = chi2_2xk(np.array([10.0, 20.0, 0.0]), np.array([20.0, 10.0, 0.0]))
    >>> round(stat, 4), round(p, 4), dof
    (6.6667, 0.0098, 1)
    """
    keep = (reference + current) > 0
    observed = np.stack((reference[keep], current[keep]))
    if observed.shape[1] == 0 or observed.sum(axis=1).min() == 0:
        raise ValueError("chi² needs at least one count on each side")
    dof = observed.shape[1] - 1
    if dof == 0:
        return 0.0, 1.0, 0
    rows = observed.sum(axis=1, keepdims=True)
    columns = observed.sum(axis=0, keepdims=True)
    expected = rows * columns / observed.sum()
    statistic = float(((observed - expected) ** 2 / expected).sum())
    return statistic, chi2_sf(dof, statistic), dof


def cramers_v(statistic: float, total: float) -> float:
    """Cramér's V of a 2×k table: chi² per observation, square-rooted (0 to 1)."""
    return math.sqrt(statistic / total) if total > 0 else 0.0


def jensen_shannon(reference: FloatArray, current: FloatArray) -> float:
    """Jensen–Shannon distance (base 2, so 0 to 1) between two count vectors.

    Equal to ``scipy.spatial.distance.jensenshannon(reference, current, base=2)``.

    Examples
    --------
    >>> import numpy as np
    >>> jensen_shannon(np.array([1.0, 0.0]), np.array([0.0, 1.0]))
    1.0
    >>> jensen_shannon(np.array([2.0, 2.0]), np.array([5.0, 5.0]))
    0.0
    """
    p = reference / reference.sum()
    q = current / current.sum()
    m = (p + q) / 2.0
    divergence = (_relative_entropy(p, m) + _relative_entropy(q, m)) / 2.0 / math.log(2.0)
    return math.sqrt(max(divergence, 0.0))


def _relative_entropy(p: FloatArray, m: FloatArray) -> float:
    # 0·log(0/m) = 0; m > 0 wherever p > 0.
    positive = p > 0
    return float(np.sum(p[positive] * np.log(p[positive] / m[positive])))

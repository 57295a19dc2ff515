"""Distances between numeric samples: PSI, Wasserstein, and KS against a quantile sketch.

All functions take *sorted*, NaN-free float64 arrays: a feature is sorted once and every
test reads the same sorted array.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

#: Shares are floored at this value on both sides before PSI, so an empty bin costs a
#: large but finite amount instead of an infinite one.
PSI_FLOOR = 1e-4


def quantiles_sorted(sorted_values: FloatArray, probabilities: FloatArray) -> FloatArray:
    """Quantiles of a sorted sample by linear interpolation (numpy's default method).

    Examples
    --------
    >>> import numpy as np
    >>> quantiles_sorted(np.array([1.0, 2.0, 3.0, 4.0]), np.array([0.0, 0.5, 1.0])).tolist()
    [1.0, 2.5, 4.0]
    """
    n = sorted_values.size
    position = (n - 1) * probabilities
    lower = np.floor(position).astype(np.intp)
    upper = np.minimum(lower + 1, n - 1)
    fraction = position - lower
    low, high = sorted_values[lower], sorted_values[upper]
    # Equal neighbours give exactly that value, so tied quantiles compare equal.
    return np.where(low == high, low, low + fraction * (high - low))


def psi_edges(sorted_values: FloatArray, bins: int) -> FloatArray:
    """Inner PSI bin edges: reference quantiles at 1/bins, ..., (bins-1)/bins, deduplicated.

    The outer bins are open, so values outside the reference range still land in a bin.
    Bins are closed on the left: ``(-inf, e1), [e1, e2), ..., [ek, +inf)``.

    Examples
    --------
    >>> import numpy as np
    >>> psi_edges(np.array([0.0, 0.0, 0.0, 1.0, 2.0]), 4).tolist()
    [0.0, 1.0]
    """
    if bins < 2:
        raise ValueError("PSI needs at least 2 bins")
    if sorted_values.size == 0:
        return np.empty(0)
    inner = quantiles_sorted(sorted_values, np.arange(1, bins) / bins)
    return np.unique(inner)


def bin_counts(sorted_values: FloatArray, edges: FloatArray) -> NDArray[np.int64]:
    """How many of the sorted values fall in each of the ``len(edges) + 1`` bins."""
    cuts = np.searchsorted(sorted_values, edges, side="left")
    bounds = np.concatenate(([0], cuts, [sorted_values.size]))
    return np.diff(bounds).astype(np.int64)


def psi(reference_shares: FloatArray, current_shares: FloatArray) -> float:
    """Population stability index Σ (q − p)·ln(q / p), shares floored at :data:`PSI_FLOOR`.

    ``p`` are reference shares and ``q`` current shares of the same bins.

    Examples
    --------
    >>> import numpy as np
    >>> psi(np.array([0.5, 0.5]), np.array([0.5, 0.5]))
    0.0
    >>> round(psi(np.array([0.5, 0.5]), np.array([0.7, 0.3])), 4)
    0.1695
    """
    p = np.maximum(reference_shares, PSI_FLOOR)
    q = np.maximum(current_shares, PSI_FLOOR)
    return float(np.sum((q - p) * np.log(q / p)))


def wasserstein_from_gaps(values: FloatArray, gaps: FloatArray) -> float:
    """∫ |F_a − F_b| dx from :func:`drift.kolmogorov.ecdf_gaps` output.

    Inside a run of ties the gap is a partial count, but the run has zero width, so those
    terms vanish and the sum equals ``scipy.stats.wasserstein_distance``.
    """
    # Not np.dot: that is BLAS, whose idle threads then spin on the other core.
    return float(np.sum(np.abs(gaps[:-1]) * np.diff(values)))


def pooled_std(n1: int, mean1: float, std1: float, n2: int, mean2: float, std2: float) -> float:
    """Standard deviation (ddof 0) of two samples put together, from their summaries."""
    total = n1 + n2
    mean = (n1 * mean1 + n2 * mean2) / total
    variance = (n1 * (std1**2 + (mean1 - mean) ** 2) + n2 * (std2**2 + (mean2 - mean) ** 2)) / total
    return math.sqrt(max(variance, 0.0))


def normalise_distance(raw: float, reference_std: float, pooled: float) -> float:
    """Wasserstein distance in reference standard deviations.

    A constant reference has no spread to measure in, so the distance is then expressed in
    standard deviations of reference and current pooled; if that is zero too, both sides
    are the same constant and the distance is 0.
    """
    if reference_std > 0.0:
        return raw / reference_std
    if pooled > 0.0:
        return raw / pooled
    return 0.0


class SketchCdf:
    """A reference CDF known only through evenly spaced quantiles ``q_0 .. q_K``.

    Between knots the CDF is interpolated linearly, ``F̂(q_j) = j / K``; below ``q_0`` it
    is 0 and from ``q_K`` on it is 1. If the knots are the linear-interpolation quantiles
    of ``n`` values at ``j / K``, then ``|F̂(x) − F(x)| ≤ 1/K + 1/n`` everywhere, so any
    statistic built from the CDF (the KS D, Wasserstein) moves by at most that much
    (times the range, for Wasserstein).
    """

    def __init__(self, knots: FloatArray) -> None:
        if knots.size < 2:
            raise ValueError("a quantile sketch needs at least 2 knots")
        self.knots = knots
        self.steps = knots.size - 1

    def _interpolate(self, x: FloatArray, below: NDArray[np.intp]) -> FloatArray:
        # ``below`` is the index of the last knot at (or before) x; x < next knot.
        inside = (below >= 0) & (below < self.steps)
        j = np.clip(below, 0, self.steps - 1)
        left, right = self.knots[j], self.knots[j + 1]
        width = np.where(inside, right - left, 1.0)
        fraction = np.where(inside, (x - left) / width, 0.0)
        value = (j + np.clip(fraction, 0.0, 1.0)) / self.steps
        return np.where(below < 0, 0.0, np.where(below >= self.steps, 1.0, value))

    def at(self, x: FloatArray) -> FloatArray:
        """F̂(x), right-continuous."""
        return self._interpolate(x, np.searchsorted(self.knots, x, side="right") - 1)

    def before(self, x: FloatArray) -> FloatArray:
        """F̂(x−), the limit from the left."""
        return self._interpolate(x, np.searchsorted(self.knots, x, side="left") - 1)


def sketch_ks_statistic(sketch: SketchCdf, current: FloatArray) -> float:
    """sup |G − F̂| for the current sample's ECDF G against a sketched reference.

    Between consecutive points of (knots ∪ current values) G is constant and F̂ monotone,
    so the supremum is reached at those points, from the right or from the left.
    """
    points = np.union1d(sketch.knots, current)
    m = current.size
    g_at = np.searchsorted(current, points, side="right") / m
    g_before = np.searchsorted(current, points, side="left") / m
    gap_at = np.abs(g_at - sketch.at(points))
    gap_before = np.abs(g_before - sketch.before(points))
    return float(min(max(gap_at.max(), gap_before.max()), 1.0))


def sketch_wasserstein(sketch: SketchCdf, current: FloatArray) -> float:
    """∫ |G − F̂| dx, integrated exactly piece by piece (F̂ is linear, G constant)."""
    points = np.union1d(sketch.knots, current)
    if points.size < 2:
        return 0.0
    left, right = points[:-1], points[1:]
    g = np.searchsorted(current, left, side="right") / current.size
    start = sketch.at(left) - g
    end = sketch.before(right) - g
    width = right - left
    same_sign = start * end >= 0
    magnitude = np.abs(start) + np.abs(end)
    safe = np.where(magnitude > 0, magnitude, 1.0)
    area = np.where(
        same_sign,
        width * magnitude / 2.0,
        width * (start**2 + end**2) / (2.0 * safe),
    )
    return float(area.sum())

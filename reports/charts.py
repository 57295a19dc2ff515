"""What a report's charts show, computed from what ``detect`` compared: pure numpy, no I/O.

A numeric column becomes a :class:`Histogram`: reference and current shares on one grid of
equal-width bins, so the two densities overlay. The reference side comes from its profile —
its exact values when the profile kept them, else the 1,001-point quantile sketch (the share
of a bin is the sketch's CDF difference across it) — so a saved profile charts as well as a
file. The grid spans both sides' 0.5–99.5 % quantiles; what falls outside is counted apart,
never silently cut.

A categorical column becomes :class:`CategoryShares`: the most prominent categories of
either side with both shares, the rest folded into one "other" row, missing as its own row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from drift import CategoricalProfile, NumericProfile, Profile

#: Equal-width bins of a numeric chart: fine enough to show shape, few enough to stay small.
HISTOGRAM_BINS = 40
#: Categories shown by name; the rest are summed into "other".
TOP_CATEGORIES = 12
#: The grid covers these quantiles of each side, so one outlier cannot flatten the chart.
TAIL = 0.005


@dataclass(frozen=True)
class Histogram:
    """Reference and current shares of ``len(edges) - 1`` equal-width bins.

    Shares are of each side's finite values; ``*_below`` / ``*_above`` are the shares left
    of the first edge and right of the last.
    """

    edges: tuple[float, ...]
    reference: tuple[float, ...]
    current: tuple[float, ...]
    reference_below: float
    reference_above: float
    current_below: float
    current_above: float
    reference_mean: float | None
    current_mean: float | None


@dataclass(frozen=True)
class CategoryShares:
    """Shares of all rows (missing included) per category, the most prominent first."""

    categories: tuple[str, ...]
    reference: tuple[float, ...]
    current: tuple[float, ...]
    #: how many categories the "other" row (if any) folds together
    other_count: int


Chart = Histogram | CategoryShares


def column_chart(profile: Profile, current: Any) -> Chart | None:
    """The chart of one column, or ``None`` when neither side has a value to draw."""
    if isinstance(profile, NumericProfile):
        return numeric_histogram(profile, np.asarray(current, dtype=np.float64))
    if isinstance(profile, CategoricalProfile):
        return category_shares(profile, current)
    raise TypeError(f"not a profile: {type(profile).__name__}")


def column_charts(profiles: Mapping[str, Profile], values: Mapping[str, Any]) -> dict[str, Chart]:
    """Charts of every profiled column that has current values and something to draw."""
    charts = {}
    for name, profile in profiles.items():
        if name in values:
            chart = column_chart(profile, values[name])
            if chart is not None:
                charts[name] = chart
    return charts


def numeric_histogram(profile: NumericProfile, current: np.ndarray,
                      bins: int = HISTOGRAM_BINS) -> Histogram | None:
    finite = current[np.isfinite(current)]
    has_reference = profile.valid > 0
    if not has_reference and finite.size == 0:
        return None
    probabilities = np.linspace(0.0, 1.0, max(profile.quantiles.size, 2))
    lows, highs = [], []
    if has_reference:
        lo, hi = np.interp([TAIL, 1 - TAIL], probabilities, profile.quantiles)
        lows.append(lo)
        highs.append(hi)
    if finite.size:
        lo, hi = np.quantile(finite, [TAIL, 1 - TAIL])
        lows.append(lo)
        highs.append(hi)
    low, high = float(min(lows)), float(max(highs))
    if not high > low:  # one value on both sides: a narrow grid around it
        pad = max(abs(low) * 0.05, 0.5)
        low, high = low - pad, high + pad
    edges = np.linspace(low, high, bins + 1)

    if not has_reference:
        reference, ref_below, ref_above = np.zeros(bins), 0.0, 0.0
    elif profile.values is not None:
        reference, ref_below, ref_above = _sorted_shares(profile.values, edges)
    else:
        # the sketch's CDF: the share of a bin is the difference of the CDF at its edges
        cdf = _sketch_cdf(profile.quantiles, probabilities, edges)
        reference = np.diff(cdf)
        ref_below, ref_above = float(cdf[0]), float(1.0 - cdf[-1])
    if finite.size:
        current_shares, cur_below, cur_above = _shares(finite, edges)
    else:
        current_shares, cur_below, cur_above = np.zeros(bins), 0.0, 0.0
    return Histogram(
        edges=tuple(float(e) for e in edges),
        reference=tuple(float(s) for s in reference),
        current=tuple(float(s) for s in current_shares),
        reference_below=ref_below, reference_above=ref_above,
        current_below=cur_below, current_above=cur_above,
        reference_mean=profile.mean if has_reference else None,
        current_mean=float(finite.mean()) if finite.size else None,
    )


def _shares(values: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Shares of equal-width bins (the last closed, as ``np.histogram``), in one pass:
    the bin index is arithmetic, so nothing is sorted."""
    bins = edges.size - 1
    index = np.floor((values - edges[0]) * (bins / (edges[-1] - edges[0])))
    index[values == edges[-1]] = bins - 1
    below = int(np.count_nonzero(index < 0))
    above = int(np.count_nonzero(index >= bins))
    inside = index[(index >= 0) & (index < bins)].astype(np.intp)
    counts = np.bincount(inside, minlength=bins)
    return counts / values.size, below / values.size, above / values.size


def _sorted_shares(values: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, float, float]:
    """The same for values already sorted (a profile's exact values): binary searches."""
    cuts = np.searchsorted(values, edges, side="left")
    cuts[-1] = np.searchsorted(values, edges[-1], side="right")
    counts = np.diff(cuts)
    return counts / values.size, cuts[0] / values.size, (values.size - cuts[-1]) / values.size


def _sketch_cdf(quantiles: np.ndarray, probabilities: np.ndarray, at: np.ndarray) -> np.ndarray:
    """The sketch's CDF at ``at``, interpolated between its distinct knots."""
    # np.interp wants increasing x: where knots tie (a value that repeats) keep the highest
    # probability of the run, so the CDF has reached the run's whole mass at that value
    unique, last = np.unique(quantiles[::-1], return_index=True)
    top = probabilities[::-1][last]
    return np.asarray(np.interp(at, unique, top, left=0.0, right=1.0))


def category_shares(profile: CategoricalProfile, current: Any,
                    top: int = TOP_CATEGORIES) -> CategoryShares | None:
    counts = _count(current)
    n_current = sum(counts.values())
    if profile.n == 0 and n_current == 0:
        return None
    reference_counts: dict[str | None, int] = {k: v for k, v in profile.counts.items()}
    if profile.missing:
        reference_counts[None] = profile.missing
    ref_share = {k: v / profile.n for k, v in reference_counts.items()} if profile.n else {}
    cur_share = {k: v / n_current for k, v in counts.items()} if n_current else {}
    named = [k for k in set(ref_share) | set(cur_share) if k is not None]
    named.sort(key=lambda k: (-max(ref_share.get(k, 0.0), cur_share.get(k, 0.0)), k))
    shown, rest = named[:top], named[top:]
    rows: list[tuple[str, float, float]] = [
        (k, ref_share.get(k, 0.0), cur_share.get(k, 0.0)) for k in shown]
    if rest:
        rows.append((f"other ({len(rest)})", sum(ref_share.get(k, 0.0) for k in rest),
                     sum(cur_share.get(k, 0.0) for k in rest)))
    if None in ref_share or None in cur_share:
        rows.append(("(missing)", ref_share.get(None, 0.0), cur_share.get(None, 0.0)))
    return CategoryShares(
        categories=tuple(r[0] for r in rows),
        reference=tuple(r[1] for r in rows),
        current=tuple(r[2] for r in rows),
        other_count=len(rest),
    )


def _count(current: Any) -> dict[str | None, int]:
    """Current categories as counts; None, NaN and "" are missing (as :mod:`drift` counts)."""
    if isinstance(current, Mapping):
        items: Sequence[tuple[Any, int]] = list(current.items())
    else:
        tally: dict[Any, int] = {}
        for value in current:
            tally[value] = tally.get(value, 0) + 1
        items = list(tally.items())
    counts: dict[str | None, int] = {}
    for key, count in items:
        missing = key is None or key == "" or (isinstance(key, float) and key != key)
        name = None if missing else str(key)
        counts[name] = counts.get(name, 0) + int(count)
    return counts

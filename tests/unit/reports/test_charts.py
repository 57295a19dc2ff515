"""Chart data: shares that add up, a sketch that draws like the exact values, categories
folded without losing mass."""

from __future__ import annotations

import numpy as np
import pytest

from drift import build_profile
from reports.charts import HISTOGRAM_BINS, category_shares, column_charts, numeric_histogram


def _total(shares: tuple[float, ...], below: float, above: float) -> float:
    return sum(shares) + below + above


def test_numeric_shares_account_for_every_finite_value() -> None:
    rng = np.random.default_rng(3)
    reference = rng.normal(0, 1, size=5000)
    current = np.concatenate([rng.normal(0.5, 1, size=4000), [np.nan] * 100, [1e6]])
    chart = numeric_histogram(build_profile(reference, "numeric"), current)
    assert chart is not None
    assert len(chart.reference) == len(chart.current) == HISTOGRAM_BINS
    assert len(chart.edges) == HISTOGRAM_BINS + 1
    assert _total(chart.reference, chart.reference_below, chart.reference_above) == pytest.approx(1)
    assert _total(chart.current, chart.current_below, chart.current_above) == pytest.approx(1)
    # the outlier is outside the range drawn, and said to be
    assert chart.current_above >= 1 / 4001
    assert chart.current_mean is not None and chart.current_mean > chart.reference_mean  # type: ignore[operator]


def test_a_sketched_reference_draws_like_its_exact_values() -> None:
    rng = np.random.default_rng(4)
    values = rng.gamma(2.0, 3.0, size=50_000)
    current = rng.gamma(2.0, 3.0, size=20_000)
    exact = numeric_histogram(build_profile(values, "numeric", exact_limit=None), current)
    sketch = numeric_histogram(build_profile(values, "numeric", exact_limit=0), current)
    assert exact is not None and sketch is not None
    assert exact.edges == sketch.edges
    assert max(abs(a - b) for a, b in zip(exact.reference, sketch.reference, strict=True)) < 0.004


def test_a_constant_column_still_gets_a_grid() -> None:
    chart = numeric_histogram(build_profile([2.0] * 100, "numeric"), np.array([2.0] * 50))
    assert chart is not None and chart.edges[0] < 2.0 < chart.edges[-1]
    assert sum(chart.reference) == pytest.approx(1) and sum(chart.current) == pytest.approx(1)


def test_no_values_on_either_side_draws_nothing() -> None:
    profile = build_profile([np.nan, np.nan], "numeric")
    assert numeric_histogram(profile, np.array([np.nan])) is None


def test_categories_fold_the_tail_and_keep_missing_apart() -> None:
    reference = [f"c{i}" for i in range(30) for _ in range(10)] + [None] * 20
    profile = build_profile(reference, "categorical")
    current = {"c0": 200, "new": 50, None: 10, "": 5}
    chart = category_shares(profile, current, top=5)
    assert chart is not None
    assert chart.categories[0] == "c0"  # the most prominent on either side leads
    assert chart.categories[-2:] == ("other (26)", "(missing)")
    assert chart.other_count == 26
    assert sum(chart.reference) == pytest.approx(1)
    assert sum(chart.current) == pytest.approx(1)
    assert chart.current[-1] == pytest.approx(15 / 265)  # None and "" are both missing


def test_column_charts_skip_columns_without_current_values() -> None:
    profiles = {"a": build_profile([1.0, 2.0, 3.0], "numeric"),
                "b": build_profile(["x", "y"], "categorical")}
    charts = column_charts(profiles, {"a": np.array([1.0, 2.5])})
    assert set(charts) == {"a"}

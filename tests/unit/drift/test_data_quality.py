"""Data-quality signals: the missing share as a test of its own, absent and new columns,
too-small samples — and severity only for drifted features."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from drift import DriftPolicy, FeaturePolicy, build_profile, compare
from drift.stattests import TESTS


def _with_missing(rng: np.random.Generator, n: int, share: float) -> np.ndarray:
    values = rng.normal(size=n)
    values[rng.random(n) < share] = np.nan
    return values


def test_missing_share_p_value_is_scipys_chi2_on_the_2x2_table() -> None:
    rng = np.random.default_rng(1)
    reference = _with_missing(rng, 3000, 0.02)
    current = _with_missing(rng, 2000, 0.06)
    result = compare({"x": build_profile(reference, "numeric")}, {"x": current}).feature("x")
    missing = result.tests["missing_share"]
    table = [[np.isnan(reference).sum(), (~np.isnan(reference)).sum()],
             [np.isnan(current).sum(), (~np.isnan(current)).sum()]]
    _, p, _, _ = stats.chi2_contingency(table, correction=False)
    assert missing.p_value == pytest.approx(p, rel=1e-9)
    assert missing.statistic == pytest.approx(np.isnan(current).mean() - np.isnan(reference).mean())
    assert missing.effect == pytest.approx(abs(missing.statistic))


def test_a_significant_but_small_change_in_missingness_is_not_drift() -> None:
    rng = np.random.default_rng(2)
    reference = {"x": build_profile(_with_missing(rng, 100_000, 0.01), "numeric")}
    report = compare(reference, {"x": _with_missing(rng, 100_000, 0.03)})
    feature = report.feature("x")
    assert feature.tests["missing_share"].p_value < 1e-10  # significant at this n ...
    assert not feature.drifted and feature.severity == "none"  # ... but 2 points is not 5


def test_missing_share_is_its_own_bh_family() -> None:
    rng = np.random.default_rng(3)
    shares = [0.0, 0.08, 0.1, 0.0, 0.3]
    reference = {f"x{i}": build_profile(rng.normal(size=400), "numeric") for i in range(5)}
    current = {f"x{i}": _with_missing(rng, 400, s) for i, s in enumerate(shares)}
    report = compare(reference, current)
    raw = [f.tests["missing_share"].p_value for f in report.features]
    adjusted = stats.false_discovery_control(raw, method="bh")
    for feature, p_adj, share in zip(report.features, adjusted, shares, strict=True):
        expected = p_adj < 0.05 and share >= 0.05
        assert feature.tests["missing_share"].drifted == expected, feature.name
    assert report.feature("x4").severity == "high"


def test_categorical_columns_get_the_missing_signal_too() -> None:
    reference = {"c": build_profile(["a", "b"] * 500, "categorical")}
    current = ["a", "b"] * 350 + [None] * 300
    feature = compare(reference, {"c": current}).feature("c")
    assert feature.tests["missing_share"].drifted and feature.drifted


def test_absent_columns_drift_high_and_new_ones_are_listed() -> None:
    rng = np.random.default_rng(4)
    reference = {"a": build_profile(rng.normal(size=500), "numeric"),
                 "b": build_profile(rng.normal(size=500), "numeric")}
    report = compare(reference, {"a": rng.normal(size=500), "z": [1.0] * 500})
    gone = report.feature("b")
    assert (gone.status, gone.drifted, gone.severity) == ("absent", True, "high")
    assert report.new_features == ("z",) and report.drifted_share == 0.5


def test_below_min_sample_nothing_is_decided() -> None:
    rng = np.random.default_rng(5)
    reference = {"x": build_profile(rng.normal(size=1000), "numeric"),
                 "y": build_profile(rng.normal(size=1000), "numeric")}
    report = compare(reference, {"x": [9.0, 9.5, 10.0], "y": [9.0, 9.5, 10.0]})
    assert [f.status for f in report.features] == ["insufficient_data"] * 2
    assert not report.dataset_drift and report.drifted_share == 0.0
    assert all(f.tests == {} and f.p_value_adjusted is None for f in report.features)
    decided = compare(reference, {"x": [9.0, 9.5, 10.0], "y": [9.0, 9.5, 10.0]},
                      DriftPolicy(min_sample=3))
    assert all(f.status == "tested" and f.drifted for f in decided.features)


def test_the_registry_rates_severity() -> None:
    """Severity is the highest rating of the tests that made a feature drift."""
    rng = np.random.default_rng(6)
    reference = {"x": build_profile(rng.normal(size=5000), "numeric")}
    shifted = rng.normal(1.0, size=5000)
    shifted[:1500] = np.nan  # a large shift and 30 % missing
    feature = compare(reference, {"x": shifted}).feature("x")
    ratings = {name: TESTS[name].rate(result, FeaturePolicy())  # type: ignore[misc]
               for name, result in feature.tests.items() if TESTS[name].rate is not None}
    assert feature.severity == "high" and "high" in ratings.values()
    lenient = DriftPolicy(default=FeaturePolicy(high_psi=100.0, high_missing_delta=0.9))
    assert compare(reference, {"x": shifted}, lenient).feature("x").severity == "medium"


@settings(max_examples=40, deadline=None)
@given(shift=st.floats(-1.0, 1.0), missing=st.floats(0.0, 0.6), n=st.integers(1, 400),
       seed=st.integers(0, 2**16))
def test_severity_is_defined_only_for_drifted_features(shift: float, missing: float, n: int,
                                                       seed: int) -> None:
    rng = np.random.default_rng(seed)
    reference = {"x": build_profile(rng.normal(size=300), "numeric"),
                 "c": build_profile(rng.choice(["a", "b", "c"], size=300).tolist(), "categorical")}
    values = rng.normal(shift, size=n)
    values[rng.random(n) < missing] = np.nan
    current = {"x": values, "c": rng.choice(["a", "b", None], size=n).tolist()}
    for feature in compare(reference, current).features:
        assert (feature.severity == "none") == (not feature.drifted)
        if feature.status == "insufficient_data":
            assert n < 30 and not feature.drifted

"""chi², Jensen–Shannon and category PSI against scipy and by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy.spatial import distance

from drift import categorical as cat
from drift import numeric
from drift.policy import FeaturePolicy
from drift.profile import categorical_profile
from drift.stattests import CategoricalComparison, chi2_test, jensen_shannon_test, psi_test

counts = st.lists(st.integers(0, 500), min_size=1, max_size=12)


@settings(max_examples=300, deadline=None)
@given(counts, counts)
def test_chi2_matches_scipy_without_correction(ref: list[int], cur: list[int]) -> None:
    size = max(len(ref), len(cur))
    r = np.array(ref + [0] * (size - len(ref)), dtype=float)
    c = np.array(cur + [0] * (size - len(cur)), dtype=float)
    assume(r.sum() > 0 and c.sum() > 0)
    statistic, p, dof = cat.chi2_2xk(r, c)
    keep = (r + c) > 0  # scipy refuses categories nobody has; so do we, by dropping them
    expected = stats.chi2_contingency(np.stack((r[keep], c[keep])), correction=False)
    assert dof == expected.dof
    assert math.isclose(statistic, expected.statistic, rel_tol=1e-9, abs_tol=1e-12)
    # abs_tol: below 1e-300 float64 is subnormal and keeps no 9 digits on either side.
    assert math.isclose(p, expected.pvalue, rel_tol=1e-9, abs_tol=1e-300)


def test_chi2_needs_counts_on_both_sides() -> None:
    with pytest.raises(ValueError, match="each side"):
        cat.chi2_2xk(np.array([1.0, 2.0]), np.array([0.0, 0.0]))


@settings(max_examples=300, deadline=None)
@given(counts, counts)
def test_jensen_shannon_matches_scipy(ref: list[int], cur: list[int]) -> None:
    size = max(len(ref), len(cur))
    r = np.array(ref + [0] * (size - len(ref)), dtype=float)
    c = np.array(cur + [0] * (size - len(cur)), dtype=float)
    assume(r.sum() > 0 and c.sum() > 0)
    ours = cat.jensen_shannon(r, c)
    expected = float(distance.jensenshannon(r, c, base=2))
    assert math.isclose(ours, expected, rel_tol=1e-9, abs_tol=1e-12)
    assert 0.0 <= ours <= 1.0


def test_unseen_and_missing_values_are_categories_of_their_own() -> None:
    profile = categorical_profile(["a"] * 6 + ["b"] * 3 + [None])
    comparison = CategoricalComparison(profile, ["a", "a", "z", None, "", float("nan")])
    assert comparison.names == ("a", "b", "z", None)
    assert comparison.reference_counts.tolist() == [6.0, 3.0, 0.0, 1.0]
    assert comparison.current_counts.tolist() == [2.0, 0.0, 1.0, 3.0]
    assert comparison.missing_current == 3


def test_category_tests_on_a_known_table() -> None:
    profile = categorical_profile(["a"] * 50 + ["b"] * 50)
    comparison = CategoricalComparison(profile, ["a"] * 80 + ["b"] * 20)
    policy = FeaturePolicy()
    chi2 = chi2_test(comparison, policy, 0.05)
    expected = stats.chi2_contingency([[50, 50], [80, 20]],
                                      correction=False)
    assert math.isclose(chi2.statistic, expected.statistic, rel_tol=1e-12)
    assert chi2.drifted and chi2.severity == "low"
    assert math.isclose(chi2.effect, math.sqrt(expected.statistic / 200), rel_tol=1e-12)
    psi = psi_test(comparison, policy, 0.05)
    expected_psi = numeric.psi(np.array([0.5, 0.5, 0.0]), np.array([0.8, 0.2, 0.0]))
    assert math.isclose(psi.statistic, expected_psi, rel_tol=1e-12)
    assert psi.drifted and psi.severity == "high" and psi.p_value is None
    js = jensen_shannon_test(comparison, policy, 0.05)
    assert js.drifted == (js.statistic >= 0.1)


def test_category_psi_of_identical_shares_is_zero() -> None:
    profile = categorical_profile(["a", "b", "b", None])
    comparison = CategoricalComparison(profile, ["b", None, "a", "b"])
    assert psi_test(comparison, FeaturePolicy(), 0.05).statistic == 0.0

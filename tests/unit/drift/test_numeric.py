"""PSI, Wasserstein and the quantile sketch."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from drift import kolmogorov, numeric
from drift.profile import SKETCH_STEPS, numeric_profile
from drift.stattests import NumericComparison

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
tied = st.sampled_from([-2.0, -1.0, 0.0, 0.5, 1.0, 3.0])
samples = st.one_of(
    st.lists(finite, min_size=1, max_size=60),
    st.lists(tied, min_size=1, max_size=60),
    st.builds(lambda v, n: [v] * n, tied, st.integers(1, 40)),
)


@settings(max_examples=300, deadline=None)
@given(samples, samples)
def test_wasserstein_matches_scipy(a: list[float], b: list[float]) -> None:
    values, gaps, _ = kolmogorov.ecdf_gaps(np.sort(np.array(a)), np.sort(np.array(b)))
    ours = numeric.wasserstein_from_gaps(values, gaps)
    expected = float(stats.wasserstein_distance(a, b))
    assert math.isclose(ours, expected, rel_tol=1e-9, abs_tol=1e-9 * max(map(abs, a + b)))


def test_normalised_wasserstein_divides_by_reference_std() -> None:
    rng = np.random.default_rng(5)
    ref, cur = rng.normal(0, 2, size=3000), rng.normal(1, 2, size=2000)
    comparison = NumericComparison(numeric_profile(ref), cur)
    expected = stats.wasserstein_distance(ref, cur) / np.std(ref)
    assert math.isclose(comparison.wasserstein(), expected, rel_tol=1e-9)


def test_constant_reference_uses_pooled_std() -> None:
    profile = numeric_profile(np.full(100, 2.0))
    same = NumericComparison(profile, np.full(50, 2.0))
    assert same.wasserstein() == 0.0
    other = NumericComparison(profile, np.full(100, 4.0))
    # W = 2; pooled std of 100 twos and 100 fours is 1.
    assert math.isclose(other.wasserstein(), 2.0, rel_tol=1e-12)


shares = st.lists(st.floats(0.0, 1.0), min_size=2, max_size=12)


@given(shares, shares)
def test_psi_is_never_negative(p: list[float], q: list[float]) -> None:
    size = min(len(p), len(q))
    p_arr, q_arr = np.array(p[:size]) + 1e-12, np.array(q[:size]) + 1e-12
    assert numeric.psi(p_arr / p_arr.sum(), q_arr / q_arr.sum()) >= 0.0


@settings(max_examples=100, deadline=None)
@given(st.lists(finite, min_size=1, max_size=200), st.integers(2, 20))
def test_psi_of_a_sample_against_itself_is_zero(values: list[float], bins: int) -> None:
    profile = numeric_profile(values, bins=bins)
    assert NumericComparison(profile, np.array(values)).psi() == 0.0


@settings(max_examples=50, deadline=None)
@given(st.lists(finite, min_size=2, max_size=200), st.lists(finite, min_size=1, max_size=200),
       st.randoms())
def test_psi_does_not_depend_on_row_order(ref: list[float], cur: list[float], rnd) -> None:
    profile = numeric_profile(ref)
    shuffled = list(cur)
    rnd.shuffle(shuffled)
    assert NumericComparison(profile, np.array(cur)).psi() == NumericComparison(
        profile, np.array(shuffled)
    ).psi()


def test_empty_bins_are_floored_at_one_in_ten_thousand() -> None:
    profile = numeric_profile(np.arange(1000.0), bins=2)  # edge 499.5, shares 0.5 / 0.5
    value = NumericComparison(profile, np.full(10, 10_000.0)).psi()
    expected = (1e-4 - 0.5) * math.log(1e-4 / 0.5) + (1.0 - 0.5) * math.log(1.0 / 0.5)
    assert math.isclose(value, expected, rel_tol=1e-12)
    assert numeric.psi(np.array([0.0, 1.0]), np.array([0.0, 1.0])) == 0.0


def test_psi_edges_drop_duplicates_and_leave_outer_bins_open() -> None:
    values = np.sort(np.array([0.0] * 70 + [1.0, 2.0, 3.0] * 10))
    edges = numeric.psi_edges(values, 10)
    assert edges.tolist() == sorted(set(edges.tolist()))
    counts = numeric.bin_counts(np.array([-1e9, 0.0, 1e9]), edges)
    assert counts.sum() == 3 and counts[0] == 1 and counts[-1] == 1


def test_quantiles_match_numpy() -> None:
    values = np.sort(np.random.default_rng(1).normal(size=1001))
    probabilities = np.linspace(0, 1, 37)
    assert np.allclose(numeric.quantiles_sorted(values, probabilities),
                       np.quantile(values, probabilities), rtol=0, atol=1e-12)


def _reference(rng: np.random.Generator, shape: str, n: int) -> np.ndarray:
    if shape == "normal":
        return rng.normal(size=n)
    if shape == "ties":
        return rng.poisson(3.0, size=n).astype(float)
    return np.concatenate([np.zeros(n // 2), rng.exponential(size=n - n // 2)])


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(10_001, 60_000), st.integers(1, 30_000),
       st.sampled_from(["normal", "ties", "mixed"]), st.floats(-0.5, 0.5))
def test_sketch_ks_error_is_within_the_documented_bound(
    seed: int, n_ref: int, n_cur: int, shape: str, shift: float
) -> None:
    rng = np.random.default_rng(seed)
    ref = _reference(rng, shape, n_ref)
    cur = np.sort(_reference(rng, shape, n_cur) + np.round(shift, 1))
    profile = numeric_profile(ref)
    assert profile.values is None  # too many to keep: the sketch is all there is
    d = numeric.sketch_ks_statistic(numeric.SketchCdf(profile.quantiles), cur)
    exact = float(stats.ks_2samp(ref, cur).statistic)
    assert abs(d - exact) <= 1 / SKETCH_STEPS + 1 / n_ref


def test_sketch_wasserstein_is_close_to_exact() -> None:
    rng = np.random.default_rng(11)
    ref, cur = rng.normal(size=50_000), np.sort(rng.normal(0.3, 1.2, size=20_000))
    profile = numeric_profile(ref)
    approx = numeric.sketch_wasserstein(numeric.SketchCdf(profile.quantiles), cur)
    assert approx == pytest.approx(stats.wasserstein_distance(ref, cur), rel=0.01)


def test_sketch_cdf_is_exact_at_and_beyond_the_range() -> None:
    sketch = numeric.SketchCdf(np.array([0.0, 1.0, 1.0, 2.0]))
    at = sketch.at(np.array([-1.0, 0.0, 0.5, 1.0, 1.5, 2.0, 3.0]))
    assert at.tolist() == [0.0, 0.0, 1 / 6, 2 / 3, 5 / 6, 1.0, 1.0]
    assert sketch.before(np.array([1.0]))[0] == pytest.approx(1 / 3)

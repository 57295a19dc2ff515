"""KS statistic and p-value against scipy.stats.ks_2samp (method "auto")."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from drift import kolmogorov

REL = 1e-9

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
# Few distinct values, so ties are the rule, not the exception.
tied = st.sampled_from([-2.0, -1.0, 0.0, 0.5, 1.0, 3.0])
samples = st.one_of(
    st.lists(finite, min_size=1, max_size=60),
    st.lists(tied, min_size=1, max_size=60),
    st.builds(lambda v, n: [v] * n, tied, st.integers(1, 40)),  # constant column
)


def close(a: float, b: float) -> bool:
    # abs_tol: below 1e-300 float64 is subnormal and keeps no 9 digits on either side.
    return math.isclose(a, b, rel_tol=REL, abs_tol=1e-300)


@pytest.mark.filterwarnings("ignore:ks_2samp:RuntimeWarning")
@settings(max_examples=300, deadline=None)
@given(samples, samples)
def test_statistic_matches_scipy_on_small_samples(a: list[float], b: list[float]) -> None:
    x, y = np.sort(np.array(a)), np.sort(np.array(b))
    expected = stats.ks_2samp(a, b)
    assert close(kolmogorov.ks_statistic(x, y), float(expected.statistic))
    d, p = kolmogorov.ks_2samp(x, y)
    assert close(d, float(expected.statistic))
    assert close(p, float(expected.pvalue))


def _draw(rng: np.random.Generator, shape: str, n: int) -> np.ndarray:
    if shape == "normal":
        return rng.normal(size=n)
    if shape == "shifted":
        return rng.normal(0.05, 1.0, size=n)
    if shape == "ties":
        return rng.integers(0, 12, size=n).astype(float)
    if shape == "constant":
        return np.full(n, 3.0)
    return np.round(rng.exponential(size=n), 2)


shapes = st.sampled_from(["normal", "shifted", "ties", "constant", "rounded"])


@pytest.mark.filterwarnings("ignore:ks_2samp:RuntimeWarning")
@settings(max_examples=80, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 3_000), st.integers(1, 3_000), shapes, shapes)
def test_exact_path_is_scipy_to_the_bit(seed: int, n1: int, n2: int, shape1: str,
                                        shape2: str) -> None:
    # the exact branch calls scipy's own p-value helper with our statistic: bit-equal, not close
    rng = np.random.default_rng(seed)
    a, b = np.sort(_draw(rng, shape1, n1)), np.sort(_draw(rng, shape2, n2))
    expected = stats.ks_2samp(a, b, method="auto")
    assert kolmogorov.ks_2samp(a, b) == (float(expected.statistic), float(expected.pvalue))


@pytest.mark.filterwarnings("ignore:ks_2samp:RuntimeWarning")
@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, 2**32 - 1),
    st.integers(10_001, 40_000),
    st.one_of(st.integers(1, 200), st.integers(201, 40_000)),
    shapes,
    shapes,
)
def test_asymptotic_path_matches_scipy(
    seed: int, n1: int, n2: int, shape1: str, shape2: str
) -> None:
    rng = np.random.default_rng(seed)
    a, b = np.sort(_draw(rng, shape1, n1)), np.sort(_draw(rng, shape2, n2))
    expected = stats.ks_2samp(a, b, method="auto")
    d, p = kolmogorov.ks_2samp(a, b)
    assert close(d, float(expected.statistic))
    assert close(p, float(expected.pvalue))


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 300_000), st.floats(0.0, 1.0))
def test_kstwo_sf_matches_scipy(n: int, x: float) -> None:
    assert close(kolmogorov.kstwo_sf(x, n), float(stats.kstwo.sf(x, n)))


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 300_000), st.floats(0.0, 4.0))
def test_kstwo_sf_matches_scipy_where_p_values_live(n: int, z: float) -> None:
    # D around 1/sqrt(n): the range real tests land in, and where the branches switch.
    x = min(z / math.sqrt(n), 1.0)
    assert close(kolmogorov.kstwo_sf(x, n), float(stats.kstwo.sf(x, n)))


@pytest.mark.parametrize(
    ("x", "n"), [(0.003, 100_000), (0.003, 200_000), (0.02, 5_000), (0.4, 100), (0.6, 30)]
)
def test_kstwo_sf_on_each_branch(x: float, n: int) -> None:
    assert close(kolmogorov.kstwo_sf(x, n), float(stats.kstwo.sf(x, n)))


def test_empty_sample_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least one value"):
        kolmogorov.ks_2samp(np.array([]), np.array([1.0]))


def test_identical_large_samples_have_p_one() -> None:
    a = np.sort(np.random.default_rng(3).normal(size=20_000))
    assert kolmogorov.ks_2samp(a, a) == (0.0, 1.0)


def test_remembered_p_values_are_scipy_to_the_bit() -> None:
    # a stream's windows of one size against one reference: the exact p-value is remembered
    # per (n1, n2, statistic), and a remembered one is still scipy's own
    rng = np.random.default_rng(11)
    reference = np.sort(rng.normal(size=1_000))
    kolmogorov._exact_pvalue.cache_clear()
    for _ in range(60):
        window = np.sort(np.round(rng.normal(size=1_000), 1))
        expected = stats.ks_2samp(reference, window, method="auto")
        assert kolmogorov.ks_2samp(reference, window) == (float(expected.statistic),
                                                          float(expected.pvalue))
    info = kolmogorov._exact_pvalue.cache_info()
    assert info.hits > 0  # rounding to 0.1 makes statistics repeat
    assert info.currsize <= info.maxsize == 4096

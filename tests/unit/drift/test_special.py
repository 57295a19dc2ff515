"""drift.special against scipy.special, which drift no longer imports."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import special

from drift.special import chi2_sf, smirnov_sf

# Below ~1e-300 float64 runs into subnormals, where neither side keeps 9 digits.
TINY = 1e-300


def agree(ours: float, theirs: float) -> bool:
    return math.isclose(ours, theirs, rel_tol=1e-9, abs_tol=TINY)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 200_000), st.floats(0.0, 8.0))
def test_smirnov_matches_scipy_where_tests_use_it(n: int, z: float) -> None:
    x = min(z / math.sqrt(n), 1.0)
    assert agree(smirnov_sf(n, x), float(special.smirnov(n, x)))


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 5_000), st.floats(0.0, 1.0))
def test_smirnov_matches_scipy_anywhere(n: int, x: float) -> None:
    assert agree(smirnov_sf(n, x), float(special.smirnov(n, x)))


@pytest.mark.parametrize(
    ("n", "x"),
    [(1, 0.3), (50, 0.01), (50, 1 / 50), (50, 0.99), (1_000, 0.5), (2_000_000, 0.001),
     (1_000_000, 0.0012), (999_999, 0.003),
     (2_000_000, 1e-5), (100_000, 0.06), (400, 0.25)],
)
def test_smirnov_special_cases(n: int, x: float) -> None:
    assert agree(smirnov_sf(n, x), float(special.smirnov(n, x)))


@settings(max_examples=500, deadline=None)
@given(st.integers(1, 3_000), st.floats(0.0, 1.0), st.floats(0.0, 4.0))
def test_chi2_sf_matches_scipy(dof: int, u: float, scale: float) -> None:
    statistic = u * scale * (dof + 10 * math.sqrt(dof) + 20)
    assert agree(chi2_sf(dof, statistic), float(special.chdtrc(dof, statistic)))


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        smirnov_sf(0, 0.5)
    with pytest.raises(ValueError):
        smirnov_sf(5, 1.5)
    with pytest.raises(ValueError):
        chi2_sf(0, 1.0)

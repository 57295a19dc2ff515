"""McNemar's exact test against scipy's binomial test; bootstrap intervals reproducible."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import binomtest

from governance.significance import mcnemar_exact, paired_bootstrap


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.booleans()), min_size=1, max_size=300))
def test_mcnemar_exact_equals_the_binomial_test_on_discordant_pairs(pairs):
    a = np.array([p[0] for p in pairs])
    b = np.array([p[1] for p in pairs])
    result = mcnemar_exact(a, b)
    champion_only = int(np.sum(a & ~b))
    candidate_only = int(np.sum(~a & b))
    assert (result.champion_only, result.candidate_only) == (champion_only, candidate_only)
    n = champion_only + candidate_only
    expected = 1.0 if n == 0 else binomtest(candidate_only, n, 0.5).pvalue
    assert result.p_value == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_mcnemar_known_values_and_bad_input():
    # 10 discordant pairs all in the candidate's favour: p = 2 * 0.5**10
    r = mcnemar_exact([False] * 10 + [True] * 5, [True] * 10 + [True] * 5)
    assert r.p_value == pytest.approx(2 * 0.5**10)
    assert mcnemar_exact([True, False], [True, False]).p_value == 1.0
    with pytest.raises(ValueError):
        mcnemar_exact([True], [True, False])


def test_paired_bootstrap_is_reproducible_and_seed_dependent():
    rng = np.random.default_rng(1)
    a = rng.exponential(1.0, 400)
    b = a * 0.8 + rng.normal(0, 0.05, 400)
    first = paired_bootstrap(a, b, samples=500, seed=7)
    assert first == paired_bootstrap(a, b, samples=500, seed=7)
    assert first != paired_bootstrap(a, b, samples=500, seed=8)
    assert first.low < first.delta < first.high
    assert first.high < 0 and first.excludes_zero  # the candidate's loss is clearly lower
    assert first.delta == pytest.approx(b.mean() - a.mean())


def test_paired_bootstrap_covers_zero_for_equal_models_and_rmse_uses_roots():
    rng = np.random.default_rng(2)
    a = rng.exponential(1.0, 300)
    same = paired_bootstrap(a, rng.permutation(a), samples=400, seed=0)
    assert same.low < 0 < same.high and not same.excludes_zero
    sq_a, sq_b = np.full(10, 4.0), np.full(10, 1.0)
    root = paired_bootstrap(sq_a, sq_b, samples=50, seed=0, root=True)
    assert root.delta == pytest.approx(-1.0) and root.low == pytest.approx(-1.0)
    with pytest.raises(ValueError):
        paired_bootstrap([], [])
    with pytest.raises(ValueError):
        paired_bootstrap([1.0], [1.0], alpha=1.5)

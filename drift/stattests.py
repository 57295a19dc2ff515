"""The statistical tests, each a function from a comparison to a :class:`TestResult`.

:data:`TESTS` is an explicit dictionary: adding a test means adding a line here, never
registering from an import. A *comparison* pairs a reference profile with a current
sample and computes what several tests share (the merged ECDF, the aligned counts) once.

=================  ===========  ==========================================  ===============
name               kinds        statistic                                   verdict
=================  ===========  ==========================================  ===============
``ks``             numeric      two-sample KS D, p-value as scipy           p < alpha
``chi2``           categorical  Pearson chi² on the 2×k table               p < alpha
``psi``            both         PSI on reference quantile bins / categories ≥ min_psi
``wasserstein``    numeric      W1 / reference std                          ≥ min_distance
``jensen_shannon`` categorical  JS distance, base 2                         ≥ min_distance
=================  ===========  ==========================================  ===============

A hypothesis test alone rates at most ``low``: significance is not size. PSI rates on the
policy's PSI scale; a secondary distance past its threshold rates ``low``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cached_property
from types import MappingProxyType

import numpy as np

from drift import categorical as cat
from drift import kolmogorov, numeric
from drift.numeric import FloatArray
from drift.policy import FeaturePolicy
from drift.profile import CategoricalProfile, NumericProfile, count_categories
from drift.results import TestResult


class NumericComparison:
    """A numeric reference profile against a current sample (NaN/±inf are missing)."""

    kind = "numeric"

    def __init__(self, reference: NumericProfile, current: FloatArray) -> None:
        array = np.asarray(current, dtype=np.float64).ravel()
        finite = array[np.isfinite(array)]
        finite.sort()
        self.reference = reference
        self.current = finite
        self.n_current = int(array.size)
        self.missing_current = int(array.size - finite.size)

    @property
    def testable(self) -> bool:
        return self.reference.valid > 0 and self.current.size > 0

    @cached_property
    def _merged(self) -> tuple[FloatArray, FloatArray, FloatArray]:
        assert self.reference.values is not None
        return kolmogorov.ecdf_gaps(self.reference.values, self.current)

    @cached_property
    def _sketch(self) -> numeric.SketchCdf:
        return numeric.SketchCdf(self.reference.quantiles)

    def ks(self) -> tuple[float, float]:
        values = self.reference.values
        if values is None:
            # Against a sketch the statistic is approximate (error ≤ 1/1000 + 1/n_ref);
            # its p-value is Smirnov's asymptotic one.
            d = numeric.sketch_ks_statistic(self._sketch, self.current)
            return d, kolmogorov.ks_asymptotic_pvalue(d, self.reference.valid, self.current.size)
        if max(values.size, self.current.size) <= kolmogorov.EXACT_MAX_N:
            return kolmogorov.ks_2samp(values, self.current)
        _, gaps, last = self._merged
        d = kolmogorov.statistic_from_gaps(gaps, last)
        return d, kolmogorov.ks_asymptotic_pvalue(d, values.size, self.current.size)

    def psi(self) -> float:
        counts = numeric.bin_counts(self.current, self.reference.edges)
        return numeric.psi(self.reference.shares, counts / self.current.size)

    def wasserstein(self) -> float:
        if self.reference.values is None:
            raw = numeric.sketch_wasserstein(self._sketch, self.current)
        else:
            values, gaps, _ = self._merged
            raw = numeric.wasserstein_from_gaps(values, gaps)
        ref, cur = self.reference, self.current
        pooled = 0.0
        if ref.std == 0.0:  # only then is the pooled spread needed
            pooled = numeric.pooled_std(ref.valid, ref.mean, ref.std,
                                        cur.size, float(cur.mean()), float(cur.std()))
        return numeric.normalise_distance(raw, ref.std, pooled)


class CategoricalComparison:
    """A categorical reference profile against current values (None/NaN/"" are missing)."""

    kind = "categorical"

    def __init__(self, reference: CategoricalProfile, current: object) -> None:
        if isinstance(current, str | bytes) or not hasattr(current, "__iter__"):
            raise TypeError("categorical values must be a sequence of str or None")
        counts, missing, n = count_categories(current)
        self.reference = reference
        self.n_current = n
        self.missing_current = missing
        self.names, self.reference_counts, self.current_counts = cat.align_counts(
            reference.counts, reference.missing, counts, missing
        )

    @property
    def testable(self) -> bool:
        return self.reference.n > 0 and self.n_current > 0

    def shares(self) -> tuple[FloatArray, FloatArray]:
        return (self.reference_counts / self.reference_counts.sum(),
                self.current_counts / self.current_counts.sum())


Comparison = NumericComparison | CategoricalComparison
TestFunction = Callable[[Comparison, FeaturePolicy, float], TestResult]


def ks_test(comparison: Comparison, policy: FeaturePolicy, alpha: float) -> TestResult:
    """Two-sample Kolmogorov–Smirnov; effect is D itself."""
    numeric_only = _numeric(comparison, "ks")
    d, p = numeric_only.ks()
    return _hypothesis("ks", d, p, d, alpha)


def chi2_test(comparison: Comparison, policy: FeaturePolicy, alpha: float) -> TestResult:
    """Pearson chi² on category counts (missing and unseen included); effect is Cramér's V."""
    counts = _categorical(comparison, "chi2")
    statistic, p, _ = cat.chi2_2xk(counts.reference_counts, counts.current_counts)
    total = float(counts.reference_counts.sum() + counts.current_counts.sum())
    return _hypothesis("chi2", statistic, p, cat.cramers_v(statistic, total), alpha)


def psi_test(comparison: Comparison, policy: FeaturePolicy, alpha: float) -> TestResult:
    """PSI on reference-quantile bins (numeric) or on categories (categorical)."""
    if isinstance(comparison, NumericComparison):
        value = comparison.psi()
    else:
        value = numeric.psi(*comparison.shares())
    drifted = value >= policy.min_psi
    return TestResult("psi", value, None, value, drifted, policy.severity(drifted, value))


def wasserstein_test(comparison: Comparison, policy: FeaturePolicy, alpha: float) -> TestResult:
    """Wasserstein-1 distance in reference standard deviations."""
    value = _numeric(comparison, "wasserstein").wasserstein()
    return _distance("wasserstein", value, policy)


def jensen_shannon_test(comparison: Comparison, policy: FeaturePolicy, alpha: float) -> TestResult:
    """Jensen–Shannon distance between category shares."""
    counts = _categorical(comparison, "jensen_shannon")
    value = cat.jensen_shannon(counts.reference_counts, counts.current_counts)
    return _distance("jensen_shannon", value, policy)


TESTS: Mapping[str, TestFunction] = MappingProxyType(
    {
        "ks": ks_test,
        "chi2": chi2_test,
        "psi": psi_test,
        "wasserstein": wasserstein_test,
        "jensen_shannon": jensen_shannon_test,
    }
)
#: Tests whose verdict is a p-value; the others are effect sizes.
HYPOTHESIS_TESTS = frozenset({"ks", "chi2"})


def _hypothesis(name: str, statistic: float, p: float, effect: float, alpha: float) -> TestResult:
    drifted = p < alpha
    return TestResult(name, statistic, p, effect, drifted, "low" if drifted else "none")


def _distance(name: str, value: float, policy: FeaturePolicy) -> TestResult:
    drifted = value >= policy.min_distance
    return TestResult(name, value, None, value, drifted, "low" if drifted else "none")


def _numeric(comparison: Comparison, test: str) -> NumericComparison:
    if not isinstance(comparison, NumericComparison):
        raise TypeError(f"the {test} test applies to numeric features only")
    return comparison


def _categorical(comparison: Comparison, test: str) -> CategoricalComparison:
    if not isinstance(comparison, CategoricalComparison):
        raise TypeError(f"the {test} test applies to categorical features only")
    return comparison

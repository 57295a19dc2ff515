"""What every drift test shares: the comparison it reads and the registry entry it declares.

A *comparison* pairs a reference profile with a current sample and computes what several
tests share (the merged ECDF, the aligned counts) once. A :class:`TestSpec` is a test's
registry entry: everything the rest of driftline needs to know about it — which kinds it
applies to, what its verdict means for the feature (its :data:`Role`), which policy
thresholds it reads, and how it rates the severity of a drifted feature — so that nothing
outside ``drift/stattests/`` names a test.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import TYPE_CHECKING, Literal

import numpy as np

from drift import categorical as cat
from drift import kolmogorov, numeric
from drift.numeric import FloatArray
from drift.profile import CategoricalProfile, NumericProfile, count_categories
from drift.results import Kind, Severity, TestResult

if TYPE_CHECKING:
    from drift.policy import FeaturePolicy

#: What a test's verdict means for its feature:
#:
#: ``hypothesis``
#:     the kind's primary test: its p-value is Benjamini–Hochberg-adjusted across the table's
#:     features, and the distribution drifts only when the adjusted p-value is below alpha;
#: ``effect``
#:     an effect size; the distribution drifts only when at least one of them passes its
#:     threshold too (the materiality gate), and they rate the severity;
#: ``signal``
#:     a verdict of its own (significant after its own BH adjustment across the table *and*
#:     material) that makes the feature drifted whatever the distribution did.
Role = Literal["hypothesis", "effect", "signal"]


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
        """Both sides have observed values, so the distribution can be compared."""
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
        """Both sides have rows (missing is a category of its own here)."""
        return self.reference.n > 0 and self.n_current > 0

    def shares(self) -> tuple[FloatArray, FloatArray]:
        return (self.reference_counts / self.reference_counts.sum(),
                self.current_counts / self.current_counts.sum())


Comparison = NumericComparison | CategoricalComparison
TestFunction = Callable[[Comparison, "FeaturePolicy", float], TestResult]
Rating = Callable[[TestResult, "FeaturePolicy"], Severity]


@dataclass(frozen=True)
class TestSpec:
    """A drift test's registry entry.

    Parameters
    ----------
    name : str
        The name results, configs, events and the API use.
    run : callable
        ``run(comparison, policy, alpha) -> TestResult``; the result's ``drifted`` is the
        test's own verdict (unadjusted p-value for a ``signal``: the table-wide adjustment
        can only take it back).
    kinds : frozenset of {"numeric", "categorical"}
        The feature kinds it applies to.
    role : {"hypothesis", "effect", "signal"}
        What its verdict means for the feature (see :data:`Role`).
    thresholds : mapping of str to float
        The policy thresholds it reads (``policy.threshold(name)``) with their defaults;
        configs and settings may set them by these names.
    rate : callable, optional
        Severity of a drifted feature on this test's scale; ``None`` rates nothing (a p-value
        says how sure, not how much).
    headline : bool
        Its statistic is the feature's ``effect`` in events and alerts (one per kind).
    required : bool
        A policy's list of tests cannot leave it out.
    needs_values : bool
        It needs observed (non-missing) values on both sides; ``False`` for tests about
        missingness itself.
    check : callable, optional
        Validates the thresholds together (``ValueError``), beyond each being a number >= 0.
    summary : str
        One line for documentation and ``--help``.
    """

    __test__ = False  # not a pytest test class, despite the name

    name: str
    run: TestFunction
    kinds: frozenset[Kind]
    role: Role
    thresholds: Mapping[str, float] = field(default_factory=dict)
    rate: Rating | None = None
    headline: bool = False
    required: bool = False
    needs_values: bool = True
    check: Callable[[Mapping[str, float]], None] | None = None
    summary: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "kinds", frozenset(self.kinds))
        object.__setattr__(self, "thresholds", MappingProxyType(dict(self.thresholds)))


def hypothesis_result(name: str, statistic: float, p: float, effect: float,
                      alpha: float) -> TestResult:
    """A p-value verdict: drifted when ``p < alpha`` (rated ``low`` at most: significance is
    not size)."""
    drifted = p < alpha
    return TestResult(name, statistic, p, effect, drifted, "low" if drifted else "none")


def distance_result(name: str, value: float, threshold: float) -> TestResult:
    """An effect-size verdict: drifted when ``value >= threshold``."""
    drifted = value >= threshold
    return TestResult(name, value, None, value, drifted, "low" if drifted else "none")


def rate_low(result: TestResult, policy: FeaturePolicy) -> Severity:
    """A secondary distance past its threshold rates ``low``."""
    return "low" if result.drifted else "none"


def numeric_only(comparison: Comparison, test: str) -> NumericComparison:
    if not isinstance(comparison, NumericComparison):
        raise TypeError(f"the {test} test applies to numeric features only")
    return comparison


def categorical_only(comparison: Comparison, test: str) -> CategoricalComparison:
    if not isinstance(comparison, CategoricalComparison):
        raise TypeError(f"the {test} test applies to categorical features only")
    return comparison

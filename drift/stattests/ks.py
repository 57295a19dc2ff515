"""Two-sample Kolmogorov–Smirnov: the hypothesis test of numeric features."""

from __future__ import annotations

from typing import TYPE_CHECKING

from drift.results import TestResult
from drift.stattests.base import Comparison, TestSpec, hypothesis_result, numeric_only

if TYPE_CHECKING:
    from drift.policy import FeaturePolicy


def ks_test(comparison: Comparison, policy: FeaturePolicy, alpha: float) -> TestResult:
    """KS D and its p-value as ``scipy.stats.ks_2samp`` (method "auto"); effect is D itself."""
    d, p = numeric_only(comparison, "ks").ks()
    return hypothesis_result("ks", d, p, d, alpha)


SPEC = TestSpec("ks", ks_test, frozenset({"numeric"}), "hypothesis", required=True,
                summary="two-sample KS D, p-value as scipy; drifts when adjusted p < alpha")

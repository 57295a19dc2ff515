"""Wasserstein-1 distance in reference standard deviations: a numeric effect size."""

from __future__ import annotations

from typing import TYPE_CHECKING

from drift.results import TestResult
from drift.stattests.base import Comparison, TestSpec, distance_result, numeric_only, rate_low

if TYPE_CHECKING:
    from drift.policy import FeaturePolicy


def wasserstein_test(comparison: Comparison, policy: FeaturePolicy, alpha: float) -> TestResult:
    """Wasserstein-1 distance in reference standard deviations."""
    value = numeric_only(comparison, "wasserstein").wasserstein()
    return distance_result("wasserstein", value, policy.threshold("min_distance"))


SPEC = TestSpec("wasserstein", wasserstein_test, frozenset({"numeric"}), "effect",
                thresholds={"min_distance": 0.1}, rate=rate_low,
                summary="W1 / reference std; material when >= min_distance")

"""Jensen–Shannon distance between category shares: a categorical effect size."""

from __future__ import annotations

from typing import TYPE_CHECKING

from drift import categorical as cat
from drift.results import TestResult
from drift.stattests.base import (
    Comparison,
    TestSpec,
    categorical_only,
    distance_result,
    rate_low,
)

if TYPE_CHECKING:
    from drift.policy import FeaturePolicy


def jensen_shannon_test(comparison: Comparison, policy: FeaturePolicy,
                        alpha: float) -> TestResult:
    """Jensen–Shannon distance (base 2) between category shares."""
    counts = categorical_only(comparison, "jensen_shannon")
    value = cat.jensen_shannon(counts.reference_counts, counts.current_counts)
    return distance_result("jensen_shannon", value, policy.threshold("min_distance"))


SPEC = TestSpec("jensen_shannon", jensen_shannon_test, frozenset({"categorical"}), "effect",
                thresholds={"min_distance": 0.1}, rate=rate_low,
                summary="JS distance, base 2, on category shares; material when >= min_distance")

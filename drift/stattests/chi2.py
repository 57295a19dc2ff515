"""Pearson chi² on the 2×k table of category counts: the hypothesis test of categorical
features."""

from __future__ import annotations

from typing import TYPE_CHECKING

from drift import categorical as cat
from drift.results import TestResult
from drift.stattests.base import Comparison, TestSpec, categorical_only, hypothesis_result

if TYPE_CHECKING:
    from drift.policy import FeaturePolicy


def chi2_test(comparison: Comparison, policy: FeaturePolicy, alpha: float) -> TestResult:
    """Pearson chi² on category counts (missing and unseen included); effect is Cramér's V."""
    counts = categorical_only(comparison, "chi2")
    statistic, p, _ = cat.chi2_2xk(counts.reference_counts, counts.current_counts)
    total = float(counts.reference_counts.sum() + counts.current_counts.sum())
    return hypothesis_result("chi2", statistic, p, cat.cramers_v(statistic, total), alpha)


SPEC = TestSpec("chi2", chi2_test, frozenset({"categorical"}), "hypothesis", required=True,
                summary="Pearson chi² on the 2×k table, no continuity correction; "
                        "drifts when adjusted p < alpha")

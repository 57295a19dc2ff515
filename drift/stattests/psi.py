"""Population stability index: the effect size both kinds share, and the severity scale."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from drift import numeric
from drift.results import Severity, TestResult
from drift.stattests.base import Comparison, NumericComparison, TestSpec

if TYPE_CHECKING:
    from drift.policy import FeaturePolicy


def psi_test(comparison: Comparison, policy: FeaturePolicy, alpha: float) -> TestResult:
    """PSI on reference-quantile bins (numeric) or on categories (categorical)."""
    if isinstance(comparison, NumericComparison):
        value = comparison.psi()
    else:
        value = numeric.psi(*comparison.shares())
    drifted = value >= policy.threshold("min_psi")
    return TestResult("psi", value, None, value, drifted, rate_psi_value(value, drifted, policy))


def rate_psi_value(value: float, drifted: bool, policy: FeaturePolicy) -> Severity:
    """Severity on the PSI scale: ``low`` below ``medium_psi``, ``medium`` below ``high_psi``,
    then ``high``; ``none`` when not drifted.

    Examples
    --------
    >>> from drift.policy import FeaturePolicy
    >>> [rate_psi_value(x, True, FeaturePolicy()) for x in (0.05, 0.1, 0.3)]
    ['low', 'medium', 'high']
    >>> rate_psi_value(0.3, False, FeaturePolicy())
    'none'
    """
    if not drifted:
        return "none"
    if value >= policy.threshold("high_psi"):
        return "high"
    if value >= policy.threshold("medium_psi"):
        return "medium"
    return "low"


def rate_psi(result: TestResult, policy: FeaturePolicy) -> Severity:
    """A drifted feature is rated by its PSI, whichever effect opened the gate."""
    return rate_psi_value(result.statistic, True, policy)


def check_psi(thresholds: Mapping[str, float]) -> None:
    if thresholds["medium_psi"] > thresholds["high_psi"]:
        raise ValueError("medium_psi must not exceed high_psi")


SPEC = TestSpec("psi", psi_test, frozenset({"numeric", "categorical"}), "effect",
                thresholds={"min_psi": 0.1, "medium_psi": 0.1, "high_psi": 0.25},
                rate=rate_psi, headline=True, required=True, check=check_psi,
                summary="PSI on reference quantile bins / categories; material when "
                        ">= min_psi; rates severity (medium_psi, high_psi)")

"""A change in a column's share of missing values: a data-quality signal of its own.

Missing values never enter the distribution tests of numeric features, so a column that
starts arriving 29 % empty could otherwise pass as "no drift". This test compares the
missing share of the two sides with Pearson's chi² on the 2×2 table (missing, present) ×
(reference, current), like the categorical test, and calls the column drifted when the
change is significant (after the table-wide Benjamini–Hochberg adjustment) **and** at least
``min_missing_delta`` (absolute, 0.05 by default). Its statistic is the signed change
(current share − reference share), its effect the absolute change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from drift import categorical as cat
from drift.results import Severity, TestResult
from drift.stattests.base import Comparison, TestSpec

if TYPE_CHECKING:
    from drift.policy import FeaturePolicy


def missing_share_test(comparison: Comparison, policy: FeaturePolicy, alpha: float) -> TestResult:
    """Chi² on missing/present counts; statistic: the change in the missing share.

    Examples
    --------
    >>> import numpy as np
    >>> from drift.policy import FeaturePolicy
    >>> from drift.profile import build_profile
    >>> from drift.stattests.base import NumericComparison
    >>> reference = build_profile(np.arange(1000.0), "numeric")
    >>> current = np.where(np.arange(1000) % 10 < 3, np.nan, 1.0)  # 30 % missing
    >>> result = missing_share_test(NumericComparison(reference, current), FeaturePolicy(), 0.05)
    >>> round(result.statistic, 2), result.p_value < 1e-6, result.drifted, result.severity
    (0.3, True, True, 'high')
    """
    reference = comparison.reference
    ref_missing, ref_n = reference.missing, reference.n
    cur_missing, cur_n = comparison.missing_current, comparison.n_current
    delta = cur_missing / cur_n - ref_missing / ref_n
    _, p, _ = cat.chi2_2xk(np.array([ref_missing, ref_n - ref_missing], dtype=np.float64),
                           np.array([cur_missing, cur_n - cur_missing], dtype=np.float64))
    drifted = p < alpha and abs(delta) >= policy.threshold("min_missing_delta")
    result = TestResult("missing_share", delta, p, abs(delta), drifted, "none")
    return TestResult("missing_share", delta, p, abs(delta), drifted, rate_missing(result, policy))


def rate_missing(result: TestResult, policy: FeaturePolicy) -> Severity:
    """``high`` from a change of ``high_missing_delta`` (0.2), else ``medium``."""
    if not result.drifted:
        return "none"
    return "high" if result.effect >= policy.threshold("high_missing_delta") else "medium"


SPEC = TestSpec("missing_share", missing_share_test, frozenset({"numeric", "categorical"}),
                "signal", thresholds={"min_missing_delta": 0.05, "high_missing_delta": 0.2},
                rate=rate_missing, needs_values=False,
                summary="chi² on missing/present counts; drifts when adjusted p < alpha and "
                        "the missing share moved >= min_missing_delta")

"""The one entry point: reference profiles against current values, under a policy.

The batch ``driftline detect`` and the stream worker both call :func:`compare`, so a
window and a file are judged by the same code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from drift.policy import DriftPolicy, FeaturePolicy, benjamini_hochberg
from drift.profile import CategoricalProfile, NumericProfile, Profile
from drift.results import DatasetReport, FeatureReport, Severity, TestResult
from drift.stattests import (
    HYPOTHESIS_TESTS,
    TESTS,
    CategoricalComparison,
    Comparison,
    NumericComparison,
)

CurrentValues = np.ndarray | Sequence[str | None] | Sequence[float] | Mapping[str | None, int]


@dataclass(frozen=True, slots=True)
class _Tested:
    """A feature after its tests ran, before the table-wide BH adjustment."""

    name: str
    comparison: Comparison
    policy: FeaturePolicy
    tests: Mapping[str, TestResult]
    p_value: float | None


def compare(
    reference: Mapping[str, Profile],
    current: Mapping[str, CurrentValues],
    policy: DriftPolicy | None = None,
    *,
    workers: int = 1,
) -> DatasetReport:
    """Judge every reference feature against the current values of the same name.

    Parameters
    ----------
    reference : mapping of str to NumericProfile or CategoricalProfile
        The features to judge, in report order.
    current : mapping of str to values
        For a numeric feature a float array (NaN, ±inf: missing); for a categorical one a
        sequence of str or None (None, NaN, "": missing), or those values already counted
        as a mapping of category to count (``None`` for missing). Keys not in
        ``reference`` are ignored; a reference feature absent here is a ``ValueError``.
    policy : DriftPolicy, optional
        Thresholds; defaults to ``DriftPolicy()``.
    workers : int
        Features tested at once, in threads (numpy's sorts and scipy's special functions
        release the GIL). The result does not depend on it.

    Returns
    -------
    DatasetReport

    Notes
    -----
    A feature with no observed values on one side cannot be tested. If the other side had
    values, the feature has plainly changed: it is reported drifted, severity high, with an
    adjusted p-value of 0 and no test results. If neither side had values it is not
    drifted, adjusted p-value 1. Such features stay out of the BH adjustment but count in
    the drifted share.

    Examples
    --------
    >>> import numpy as np
    >>> from drift.profile import build_profile
    >>> rng = np.random.default_rng(0)
    >>> reference = {"x": build_profile(rng.normal(size=5000), "numeric"),
    ...              "c": build_profile(["a"] * 500 + ["b"] * 500, "categorical")}
    >>> report = compare(reference, {"x": rng.normal(1.0, size=5000),
    ...                              "c": ["a"] * 480 + ["b"] * 520})
    >>> [(f.name, f.drifted, f.severity) for f in report.features]
    [('x', True, 'high'), ('c', False, 'none')]
    >>> report.dataset_drift, report.drifted_share
    (True, 0.5)
    """
    policy = policy or DriftPolicy()

    def run(item: tuple[str, Profile]) -> _Tested:
        name, profile = item
        return _run_tests(name, profile, current, policy.for_feature(name), policy.alpha)

    if workers > 1 and len(reference) > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            tested = list(pool.map(run, reference.items()))
    else:
        tested = [run(item) for item in reference.items()]
    testable = [row for row in tested if row.p_value is not None]
    adjusted = dict(
        zip(
            (row.name for row in testable),
            benjamini_hochberg([row.p_value for row in testable if row.p_value is not None]),
            strict=True,
        )
    )
    features = tuple(_decide(row, adjusted.get(row.name), policy.alpha) for row in tested)
    drifted = sum(feature.drifted for feature in features)
    share = drifted / len(features) if features else 0.0
    return DatasetReport(
        dataset_drift=bool(features) and share >= policy.dataset_share,
        drifted_share=share,
        alpha=policy.alpha,
        features=features,
    )


def _run_tests(
    name: str,
    profile: Profile,
    current: Mapping[str, CurrentValues],
    policy: FeaturePolicy,
    alpha: float,
) -> _Tested:
    if name not in current:
        raise ValueError(f"feature '{name}': no current values")
    values = current[name]
    comparison: Comparison
    try:
        if isinstance(profile, NumericProfile):
            comparison = NumericComparison(profile, np.asarray(values, dtype=np.float64))
        elif isinstance(profile, CategoricalProfile):
            comparison = CategoricalComparison(profile, values)
        else:
            raise TypeError(f"not a profile: {type(profile).__name__}")
    except (TypeError, ValueError) as error:
        raise ValueError(f"feature '{name}': {error}") from error
    try:
        names = policy.tests_for(profile.kind)
    except ValueError as error:
        raise ValueError(f"feature '{name}': {error}") from None
    if not comparison.testable:
        return _Tested(name, comparison, policy, MappingProxyType({}), None)
    results = {test: TESTS[test](comparison, policy, alpha) for test in names}
    p_value = next(r.p_value for t, r in results.items() if t in HYPOTHESIS_TESTS)
    return _Tested(name, comparison, policy, MappingProxyType(results), p_value)


def _decide(row: _Tested, adjusted: float | None, alpha: float) -> FeatureReport:
    comparison = row.comparison
    reference = comparison.reference
    drifted: bool
    severity: Severity
    if adjusted is None:
        # Untestable: a side without observed values (see compare's Notes).
        reference_seen = _observed_reference(comparison) > 0
        current_seen = _observed_current(comparison) > 0
        drifted = reference_seen != current_seen and reference.n > 0 and comparison.n_current > 0
        severity = "high" if drifted else "none"
        adjusted = 0.0 if drifted else 1.0
    else:
        gate = any(
            result.drifted for test, result in row.tests.items() if test not in HYPOTHESIS_TESTS
        )
        drifted = adjusted < alpha and gate
        severity = row.policy.severity(drifted, row.tests["psi"].statistic)
    return FeatureReport(
        name=row.name,
        kind=reference.kind,
        drifted=drifted,
        severity=severity,
        p_value_adjusted=adjusted,
        missing_share_reference=reference.missing / reference.n if reference.n else 0.0,
        missing_share_current=(
            comparison.missing_current / comparison.n_current if comparison.n_current else 0.0
        ),
        tests=row.tests,
        n_reference=reference.n,
        n_current=comparison.n_current,
    )


def _observed_reference(comparison: Comparison) -> int:
    if isinstance(comparison, NumericComparison):
        return comparison.reference.valid
    return comparison.reference.n


def _observed_current(comparison: Comparison) -> int:
    if isinstance(comparison, NumericComparison):
        return int(comparison.current.size)
    return comparison.n_current

"""The one entry point: reference profiles against current values, under a policy.

The batch ``driftline detect`` and the stream worker both call :func:`compare`, so a
window and a file are judged by the same code. Nothing here names a test: what each test's
verdict means, which one is primary and how severity is rated come from the registry,
:mod:`drift.stattests`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from types import MappingProxyType

import numpy as np

from drift.policy import DriftPolicy, FeaturePolicy, benjamini_hochberg
from drift.profile import CategoricalProfile, NumericProfile, Profile
from drift.results import SEVERITY_ORDER, DatasetReport, FeatureReport, Severity, Status, TestResult
from drift.stattests import (
    HEADLINE_TEST,
    PRIMARY_TEST,
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
    profile: Profile
    comparison: Comparison | None
    policy: FeaturePolicy
    tests: Mapping[str, TestResult]
    p_value: float | None
    status: Status = "tested"


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
        ``reference`` are reported as ``new_features``; a reference feature absent here is
        reported ``absent``: drifted, severity high.
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
    A feature with fewer than ``policy.min_sample`` rows on a side is ``insufficient_data``:
    no test runs, it is not drifted and stays out of the drifted share. A feature with no
    observed values on one side cannot have its distribution tested. If the other side had
    values, the feature has plainly changed: it is reported drifted, severity high, with an
    adjusted p-value of 0 and no distribution tests (the missing-share signal still runs).
    If neither side had values it is not drifted, adjusted p-value 1. Such features stay out
    of the BH adjustment but count in the drifted share.

    p-values are adjusted per family across the table: the primary tests together, and each
    ``signal`` test (the missing share) on its own.

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
        return _run_tests(name, profile, current, policy.for_feature(name), policy)

    if workers > 1 and len(reference) > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            tested = list(pool.map(run, reference.items()))
    else:
        tested = [run(item) for item in reference.items()]
    adjusted = _adjust(tested)
    features = tuple(_decide(row, adjusted, policy.alpha) for row in tested)
    counted = [feature for feature in features if feature.status != "insufficient_data"]
    drifted = sum(feature.drifted for feature in counted)
    share = drifted / len(counted) if counted else 0.0
    return DatasetReport(
        dataset_drift=bool(counted) and share >= policy.dataset_share,
        drifted_share=share,
        alpha=policy.alpha,
        features=features,
        new_features=tuple(name for name in current if name not in reference),
    )


def _adjust(tested: Sequence[_Tested]) -> dict[tuple[str, str], float]:
    """BH-adjusted p-values by (feature, test): the primary tests as one family, each signal
    test as a family of its own."""
    families: dict[str, list[tuple[str, str, float]]] = {}
    for row in tested:
        for test, result in row.tests.items():
            role = TESTS[test].role
            if role == "effect" or result.p_value is None:
                continue
            if role == "hypothesis" and row.p_value is None:
                continue
            family = "primary" if role == "hypothesis" else test
            families.setdefault(family, []).append((row.name, test, result.p_value))
    adjusted: dict[tuple[str, str], float] = {}
    for members in families.values():
        values = benjamini_hochberg([p for _, _, p in members])
        adjusted.update({(name, test): p for (name, test, _), p in zip(members, values,
                                                                       strict=True)})
    return adjusted


def _run_tests(
    name: str,
    profile: Profile,
    current: Mapping[str, CurrentValues],
    policy: FeaturePolicy,
    table: DriftPolicy,
) -> _Tested:
    if name not in current:
        return _Tested(name, profile, None, policy, MappingProxyType({}), None, "absent")
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
    if min(profile.n, comparison.n_current) < table.min_sample:
        return _Tested(name, profile, comparison, policy, MappingProxyType({}), None, "insufficient_data")
    testable = comparison.testable
    results = {test: TESTS[test].run(comparison, policy, table.alpha) for test in names
               if testable or not TESTS[test].needs_values}
    primary = results.get(PRIMARY_TEST[profile.kind])
    p_value = primary.p_value if primary is not None else None
    return _Tested(name, profile, comparison, policy, MappingProxyType(results), p_value)


def _decide(row: _Tested, adjusted: Mapping[tuple[str, str], float], alpha: float,
            ) -> FeatureReport:
    comparison = row.comparison
    if comparison is None:  # absent from the current data
        return _absent(row)
    reference = comparison.reference
    kind = reference.kind
    tests = dict(row.tests)
    # a signal's verdict stands only if it survives its table-wide adjustment
    signals = {}
    for test, result in row.tests.items():
        if TESTS[test].role == "signal":
            final = result.drifted and adjusted.get((row.name, test), 1.0) < alpha
            signals[test] = final
            if final != result.drifted:
                tests[test] = replace(result, drifted=final, severity="none")
    ratings: list[Severity] = []
    drifted: bool
    p_adjusted: float | None = adjusted.get((row.name, PRIMARY_TEST[kind]))
    if row.status == "insufficient_data":
        drifted = False
    elif row.p_value is None:
        # Untestable distribution: a side without observed values (see compare's Notes).
        reference_seen = _observed_reference(comparison) > 0
        current_seen = _observed_current(comparison) > 0
        changed = reference_seen != current_seen and reference.n > 0 and comparison.n_current > 0
        drifted = changed or any(signals.values())
        ratings.append("high" if changed else "none")
        p_adjusted = 0.0 if changed else 1.0
    else:
        assert p_adjusted is not None
        moved = p_adjusted < alpha and any(
            result.drifted for test, result in tests.items() if TESTS[test].role == "effect")
        drifted = moved or any(signals.values())
        if moved:
            ratings += [_rate(test, result, row.policy) for test, result in tests.items()
                        if TESTS[test].role == "effect"]
    ratings += [_rate(test, tests[test], row.policy) for test, final in signals.items() if final]
    severity: Severity = "none"
    if drifted:
        severity = max(["low", *ratings], key=SEVERITY_ORDER.index)
    headline = HEADLINE_TEST[kind]
    return FeatureReport(
        name=row.name,
        kind=kind,
        drifted=drifted,
        severity=severity,
        p_value_adjusted=p_adjusted,
        missing_share_reference=reference.missing / reference.n if reference.n else 0.0,
        missing_share_current=(
            comparison.missing_current / comparison.n_current if comparison.n_current else 0.0
        ),
        tests=MappingProxyType(tests),
        n_reference=reference.n,
        n_current=comparison.n_current,
        status=row.status,
        primary_test=PRIMARY_TEST[kind],
        effect=tests[headline].statistic if headline in tests else None,
    )


def _rate(test: str, result: TestResult, policy: FeaturePolicy) -> Severity:
    rate = TESTS[test].rate
    return rate(result, policy) if rate is not None else "none"


def _absent(row: _Tested) -> FeatureReport:
    """A reference column the current data does not have at all: plainly changed."""
    return FeatureReport(
        name=row.name, kind=row.profile.kind, drifted=True, severity="high",
        p_value_adjusted=0.0,
        missing_share_reference=row.profile.missing / row.profile.n if row.profile.n else 0.0,
        missing_share_current=1.0, tests=MappingProxyType({}), n_reference=row.profile.n,
        n_current=0, status="absent", primary_test=PRIMARY_TEST[row.profile.kind], effect=None)


def _observed_reference(comparison: Comparison) -> int:
    if isinstance(comparison, NumericComparison):
        return comparison.reference.valid
    return comparison.reference.n


def _observed_current(comparison: Comparison) -> int:
    if isinstance(comparison, NumericComparison):
        return int(comparison.current.size)
    return comparison.n_current

"""When does a feature drift, and how badly: the decision policy.

A feature drifts when **either** holds:

1. its distribution moved: its primary (hypothesis) test — KS for numeric, chi² for
   categorical — is significant after the Benjamini–Hochberg adjustment across the table's
   features (adjusted p < ``alpha``) **and** at least one effect size is large enough to
   matter (PSI ≥ ``min_psi``, or the secondary distance — normalised Wasserstein for numeric,
   Jensen–Shannon for categorical — ≥ ``min_distance``);
2. a *signal* test (see :mod:`drift.stattests`) found a change that is significant after its
   own BH adjustment across the table and material: today the missing share, when it moved
   by at least ``min_missing_delta``.

The effect gate exists because on large samples a p-value flags shifts nobody cares about.

Severity is defined only for drifted features (``none`` otherwise) and is the highest rating
of the tests that made it drift, each on its own scale (the registry's ``rate``):

========  =====================================================================
low       a secondary distance opened the gate, PSI < ``medium_psi``
medium    ``medium_psi`` ≤ PSI < ``high_psi`` (0.1 to 0.25 by default), or the missing
          share moved by ``min_missing_delta`` to ``high_missing_delta``
high      PSI ≥ ``high_psi``, the missing share moved ≥ ``high_missing_delta`` (0.2),
          or the column is absent from the current data
========  =====================================================================

The table drifts when the share of drifted features reaches ``dataset_share``. A feature
with fewer than ``min_sample`` rows on either side is ``insufficient_data``: not tested,
not drifted, and not counted in the share's denominator.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from drift.results import Kind, Severity
from drift.stattests import KIND_TESTS, REQUIRED_TESTS, TESTS, THRESHOLDS
from drift.stattests.psi import rate_psi_value

__all__ = ["KIND_TESTS", "REQUIRED_TESTS", "THRESHOLDS", "DriftPolicy", "FeaturePolicy",
           "benjamini_hochberg"]


@dataclass(frozen=True, slots=True, init=False)
class FeaturePolicy:
    """Thresholds for one feature (or the default for all of them).

    Parameters
    ----------
    tests : tuple of str, optional
        Tests to run; ``None`` runs all of the kind's (:data:`KIND_TESTS`). The primary test
        and PSI cannot be left out (:data:`REQUIRED_TESTS`).
    **thresholds : float
        Any threshold a registered test reads (:data:`drift.stattests.THRESHOLDS`), by name:
        ``min_psi``, ``min_distance``, ``medium_psi``, ``high_psi``, ``min_missing_delta``,
        ``high_missing_delta``, ...; unset ones keep the registry's defaults. Each is also
        readable as an attribute (``policy.min_psi``).

    Examples
    --------
    >>> FeaturePolicy(min_psi=0.2).threshold("min_psi"), FeaturePolicy().min_distance
    (0.2, 0.1)
    """

    tests: tuple[str, ...] | None
    thresholds: Mapping[str, float]

    def __init__(self, tests: tuple[str, ...] | None = None, **thresholds: float) -> None:
        unknown = sorted(set(thresholds) - set(THRESHOLDS))
        if unknown:
            raise ValueError(f"unknown threshold(s) {', '.join(unknown)}; "
                             f"known: {', '.join(THRESHOLDS)}")
        for name, value in thresholds.items():
            if not isinstance(value, int | float) or isinstance(value, bool) or not value >= 0:
                raise ValueError(f"{name} must be a number >= 0, got {value!r}")
        merged = {**THRESHOLDS, **{k: float(v) for k, v in thresholds.items()}}
        for spec in TESTS.values():
            if spec.check is not None:
                spec.check(merged)
        if tests is not None:
            tests = tuple(tests)
            known = {name for names in KIND_TESTS.values() for name in names}
            wrong = [name for name in tests if name not in known]
            if wrong:
                raise ValueError(f"unknown test(s) {', '.join(wrong)}; known: {sorted(known)}")
        object.__setattr__(self, "tests", tests)
        object.__setattr__(self, "thresholds", MappingProxyType(merged))

    def __getattr__(self, name: str) -> float:
        # only reached for names that are not fields: the registry's thresholds
        try:
            return self.thresholds[name]
        except KeyError:
            raise AttributeError(name) from None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FeaturePolicy):
            return NotImplemented
        return self.tests == other.tests and dict(self.thresholds) == dict(other.thresholds)

    def __hash__(self) -> int:
        return hash((self.tests, tuple(sorted(self.thresholds.items()))))

    def __reduce__(self) -> tuple[object, ...]:
        return (_feature_policy, (self.tests, dict(self.thresholds)))

    def threshold(self, name: str) -> float:
        """The value of a registered test's threshold (``KeyError`` if no test reads it)."""
        return self.thresholds[name]

    def tests_for(self, kind: Kind) -> tuple[str, ...]:
        """The tests to run on a feature of ``kind``, in canonical order."""
        allowed = KIND_TESTS[kind]
        if self.tests is None:
            return allowed
        wrong = [name for name in self.tests if name not in allowed]
        if wrong:
            raise ValueError(f"test(s) {', '.join(wrong)} do not apply to {kind} features")
        absent = [name for name in REQUIRED_TESTS[kind] if name not in self.tests]
        if absent:
            raise ValueError(f"{kind} features always run {', '.join(REQUIRED_TESTS[kind])}; "
                             f"{', '.join(absent)} cannot be left out")
        return tuple(name for name in allowed if name in self.tests)

    def severity(self, drifted: bool, psi: float) -> Severity:
        """Severity on the PSI scale (see :func:`drift.stattests.psi.rate_psi_value`).

        Examples
        --------
        >>> policy = FeaturePolicy()
        >>> [policy.severity(True, x) for x in (0.05, 0.1, 0.3)]
        ['low', 'medium', 'high']
        >>> policy.severity(False, 0.3)
        'none'
        """
        return rate_psi_value(psi, drifted, self)


def _feature_policy(tests: tuple[str, ...] | None, thresholds: dict[str, float]) -> FeaturePolicy:
    return FeaturePolicy(tests, **thresholds)


@dataclass(frozen=True, slots=True)
class DriftPolicy:
    """Policy for a table: ``alpha`` for the BH-adjusted tests, the drifted share that
    makes the table drift, a default :class:`FeaturePolicy` and per-feature overrides, and
    ``min_sample``: the rows each side needs before a feature is tested at all."""

    alpha: float = 0.05
    dataset_share: float = 0.5
    default: FeaturePolicy = field(default_factory=FeaturePolicy)
    features: Mapping[str, FeaturePolicy] = field(default_factory=dict)
    min_sample: int = 30

    def __post_init__(self) -> None:
        if not isinstance(self.alpha, int | float) or not 0.0 < self.alpha < 1.0:
            raise ValueError(f"alpha must be between 0 and 1, got {self.alpha!r}")
        if not isinstance(self.dataset_share, int | float) or not 0.0 < self.dataset_share <= 1.0:
            raise ValueError(f"dataset_share must be in (0, 1], got {self.dataset_share!r}")
        if (not isinstance(self.min_sample, int) or isinstance(self.min_sample, bool)
                or self.min_sample < 1):
            raise ValueError(f"min_sample must be an integer >= 1, got {self.min_sample!r}")
        object.__setattr__(self, "features", MappingProxyType(dict(self.features)))

    def for_feature(self, name: str) -> FeaturePolicy:
        return self.features.get(name, self.default)


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """Benjamini–Hochberg adjusted p-values (step-up, capped at 1), in input order.

    Examples
    --------
    >>> benjamini_hochberg([0.01, 0.04, 0.03, 0.5])
    [0.04, 0.05333333333333334, 0.05333333333333334, 0.5]
    """
    p = np.asarray(p_values, dtype=np.float64)
    m = p.size
    if m == 0:
        return []
    order = np.argsort(p, kind="stable")
    scaled = p[order] * m / np.arange(1, m + 1)
    adjusted_sorted = np.minimum(np.minimum.accumulate(scaled[::-1])[::-1], 1.0)
    adjusted = np.empty(m)
    adjusted[order] = adjusted_sorted
    return [float(x) for x in adjusted]

"""When does a feature drift, and how badly: the decision policy.

A feature drifts when **both** hold:

1. its hypothesis test (KS for numeric, chi² for categorical) is significant after the
   Benjamini–Hochberg adjustment across the table's features: adjusted p < ``alpha``;
2. its effect is large enough to matter: PSI ≥ ``min_psi`` **or** the secondary distance
   (normalised Wasserstein for numeric, Jensen–Shannon for categorical) ≥ ``min_distance``.

The second gate exists because on large samples a p-value flags shifts nobody cares about.

Severity is read from PSI, the one effect measured on the same scale for both kinds:

========  =====================================================================
none      the feature did not drift
low       drifted, PSI < ``medium_psi`` — the secondary distance opened the gate
medium    drifted, ``medium_psi`` ≤ PSI < ``high_psi`` (0.1 to 0.25 by default)
high      drifted, PSI ≥ ``high_psi``
========  =====================================================================

The table drifts when the share of drifted features reaches ``dataset_share``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from drift.results import Kind, Severity

#: The tests each kind may run; the first is its hypothesis test, which always runs.
KIND_TESTS: Mapping[Kind, tuple[str, ...]] = MappingProxyType(
    {"numeric": ("ks", "psi", "wasserstein"), "categorical": ("chi2", "psi", "jensen_shannon")}
)
#: PSI always runs too: severity is defined on it.
REQUIRED_TESTS: Mapping[Kind, tuple[str, ...]] = MappingProxyType(
    {"numeric": ("ks", "psi"), "categorical": ("chi2", "psi")}
)


@dataclass(frozen=True, slots=True)
class FeaturePolicy:
    """Thresholds for one feature (or the default for all of them).

    Parameters
    ----------
    tests : tuple of str, optional
        Tests to run; ``None`` runs all of the kind's (:data:`KIND_TESTS`). The hypothesis
        test and PSI cannot be left out (:data:`REQUIRED_TESTS`).
    min_psi, min_distance : float
        The effect gate: PSI ≥ ``min_psi`` or secondary distance ≥ ``min_distance``.
    medium_psi, high_psi : float
        PSI from which a drifted feature is rated medium, high.
    """

    tests: tuple[str, ...] | None = None
    min_psi: float = 0.1
    min_distance: float = 0.1
    medium_psi: float = 0.1
    high_psi: float = 0.25

    def __post_init__(self) -> None:
        for name in ("min_psi", "min_distance", "medium_psi", "high_psi"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or isinstance(value, bool) or not value >= 0:
                raise ValueError(f"{name} must be a number >= 0, got {value!r}")
        if self.medium_psi > self.high_psi:
            raise ValueError("medium_psi must not exceed high_psi")
        if self.tests is not None:
            object.__setattr__(self, "tests", tuple(self.tests))
            known = {name for names in KIND_TESTS.values() for name in names}
            unknown = [name for name in self.tests if name not in known]
            if unknown:
                raise ValueError(f"unknown test(s) {', '.join(unknown)}; known: {sorted(known)}")

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
        """Severity of a feature (drifted or not) with the given PSI.

        Examples
        --------
        >>> policy = FeaturePolicy()
        >>> [policy.severity(True, x) for x in (0.05, 0.1, 0.3)]
        ['low', 'medium', 'high']
        >>> policy.severity(False, 0.3)
        'none'
        """
        if not drifted:
            return "none"
        if psi >= self.high_psi:
            return "high"
        if psi >= self.medium_psi:
            return "medium"
        return "low"


@dataclass(frozen=True, slots=True)
class DriftPolicy:
    """Policy for a table: ``alpha`` for the BH-adjusted tests, the drifted share that
    makes the table drift, a default :class:`FeaturePolicy` and per-feature overrides."""

    alpha: float = 0.05
    dataset_share: float = 0.5
    default: FeaturePolicy = field(default_factory=FeaturePolicy)
    features: Mapping[str, FeaturePolicy] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.alpha, int | float) or not 0.0 < self.alpha < 1.0:
            raise ValueError(f"alpha must be between 0 and 1, got {self.alpha!r}")
        if not isinstance(self.dataset_share, int | float) or not 0.0 < self.dataset_share <= 1.0:
            raise ValueError(f"dataset_share must be in (0, 1], got {self.dataset_share!r}")
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

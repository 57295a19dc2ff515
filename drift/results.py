"""What a comparison returns: frozen results that already say whether something drifted.

Every statistical test returns a :class:`TestResult`; the decision policy folds a feature's
results into a :class:`FeatureReport`, and a table's features into a :class:`DatasetReport`.
Callers read ``drifted`` and ``severity``; they never need to know that a p-value means
"drift when small" while PSI means "drift when large".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

Severity = Literal["none", "low", "medium", "high"]
Kind = Literal["numeric", "categorical"]
#: ``tested``: the tests ran and ``drifted`` is their verdict; ``insufficient_data``: fewer
#: rows than the policy's ``min_sample`` on a side, so nothing was decided (not "no drift");
#: ``absent``: the column is missing from the current data altogether (drifted, high).
Status = Literal["tested", "insufficient_data", "absent"]
SEVERITY_ORDER: tuple[Severity, ...] = ("none", "low", "medium", "high")


@dataclass(frozen=True, slots=True)
class TestResult:
    """One statistical test on one feature.

    Parameters
    ----------
    name : str
        Registry name of the test (``"ks"``, ``"psi"``, ...).
    statistic : float
        The test statistic (KS D, chi², PSI, normalised Wasserstein, JS distance).
    p_value : float or None
        Unadjusted p-value for hypothesis tests (KS, chi²); ``None`` for distances.
    effect : float
        An effect size on a scale that does not grow with the sample: D for KS,
        Cramér's V for chi², the statistic itself for distances.
    drifted : bool
        This test's own verdict: ``p_value < alpha`` for hypothesis tests,
        ``statistic >= threshold`` for distances. The feature's verdict is the policy's.
    severity : {"none", "low", "medium", "high"}
        This test's own severity (see :mod:`drift.policy`).
    """

    __test__: ClassVar[bool] = False  # not a pytest test class, despite the name

    name: str
    statistic: float
    p_value: float | None
    effect: float
    drifted: bool
    severity: Severity

    def to_dict(self) -> dict[str, float | bool | None]:
        """``{"statistic", "p_value", "effect", "drifted"}``, as the JSON report, drift events
        and storage carry it."""
        return {"statistic": self.statistic, "p_value": self.p_value, "effect": self.effect,
                "drifted": self.drifted}


@dataclass(frozen=True, slots=True)
class FeatureReport:
    """The policy's verdict on one feature.

    ``n_reference`` and ``n_current`` count rows, missing values included;
    ``missing_share_*`` say which part of them was missing. ``p_value_adjusted`` is the
    Benjamini–Hochberg-adjusted p-value of the feature's primary test (``primary_test``; see
    :func:`drift.compare.compare` for features that could not be tested), ``None`` when the
    feature was not tested (``status``). ``effect`` is the statistic of the kind's headline
    effect test (PSI) — both named by the registry, :mod:`drift.stattests`. Severity is
    ``none`` unless the feature drifted.
    """

    name: str
    kind: Kind
    drifted: bool
    severity: Severity
    p_value_adjusted: float | None
    missing_share_reference: float
    missing_share_current: float
    tests: Mapping[str, TestResult]
    n_reference: int
    n_current: int
    status: Status = "tested"
    primary_test: str | None = None
    effect: float | None = None

    @property
    def primary(self) -> TestResult | None:
        """The result of the primary test, when it ran."""
        return self.tests.get(self.primary_test) if self.primary_test else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "status": self.status,
            "drifted": self.drifted,
            "severity": self.severity,
            "p_value_adjusted": self.p_value_adjusted,
            "missing_share": {
                "reference": self.missing_share_reference,
                "current": self.missing_share_current,
            },
            "tests": {name: result.to_dict() for name, result in self.tests.items()},
        }


@dataclass(frozen=True, slots=True)
class DatasetReport:
    """The verdict on a whole table: features in the reference's order; ``new_features``
    are columns of the current data that the reference does not have (reported, not
    tested). ``drifted_share`` counts absent columns as drifted and leaves
    ``insufficient_data`` ones out."""

    dataset_drift: bool
    drifted_share: float
    alpha: float
    features: tuple[FeatureReport, ...]
    new_features: tuple[str, ...] = ()

    def feature(self, name: str) -> FeatureReport:
        """The report of the feature called ``name`` (``KeyError`` if there is none)."""
        for report in self.features:
            if report.name == name:
                return report
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape ``driftline detect --format json`` prints."""
        return {
            "dataset_drift": self.dataset_drift,
            "drifted_share": self.drifted_share,
            "alpha": self.alpha,
            "features": [report.to_dict() for report in self.features],
            "new_features": list(self.new_features),
        }

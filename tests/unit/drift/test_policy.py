"""The decision policy: BH adjustment, the effect gate's thresholds, severity."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from drift.policy import DriftPolicy, FeaturePolicy, benjamini_hochberg


@given(st.lists(st.floats(0.0, 1.0), min_size=1, max_size=40))
def test_bh_matches_scipy(p_values: list[float]) -> None:
    expected = stats.false_discovery_control(np.array(p_values), method="bh")
    assert np.allclose(benjamini_hochberg(p_values), expected, rtol=1e-12, atol=0)


def test_bh_of_nothing_is_nothing() -> None:
    assert benjamini_hochberg([]) == []


@pytest.mark.parametrize(
    ("drifted", "psi", "severity"),
    [(False, 0.9, "none"), (True, 0.0, "low"), (True, 0.099, "low"), (True, 0.1, "medium"),
     (True, 0.249, "medium"), (True, 0.25, "high"), (True, 3.0, "high")],
)
def test_severity_scale(drifted: bool, psi: float, severity: str) -> None:
    assert FeaturePolicy().severity(drifted, psi) == severity


def test_severity_thresholds_are_configurable() -> None:
    policy = FeaturePolicy(medium_psi=0.2, high_psi=0.5)
    assert [policy.severity(True, x) for x in (0.15, 0.3, 0.6)] == ["low", "medium", "high"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"min_psi": -1}, "min_psi"), ({"medium_psi": 0.3, "high_psi": 0.2}, "medium_psi"),
     ({"tests": ("ks", "anderson")}, "unknown test")],
)
def test_feature_policy_rejects_bad_values(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FeaturePolicy(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"), [({"alpha": 0.0}, "alpha"), ({"alpha": 1.5}, "alpha"),
                            ({"dataset_share": 0.0}, "dataset_share")],
)
def test_drift_policy_rejects_bad_values(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DriftPolicy(**kwargs)


def test_tests_for_a_kind() -> None:
    assert FeaturePolicy().tests_for("numeric") == ("ks", "psi", "wasserstein", "missing_share")
    assert FeaturePolicy(tests=("psi", "ks")).tests_for("numeric") == ("ks", "psi")
    with pytest.raises(ValueError, match="do not apply"):
        FeaturePolicy(tests=("chi2", "psi")).tests_for("numeric")
    with pytest.raises(ValueError, match="cannot be left out"):
        FeaturePolicy(tests=("ks", "wasserstein")).tests_for("numeric")


def test_per_feature_policy_falls_back_to_the_default() -> None:
    special = FeaturePolicy(min_psi=0.5)
    policy = DriftPolicy(features={"x": special})
    assert policy.for_feature("x") is special
    assert policy.for_feature("y") == FeaturePolicy()

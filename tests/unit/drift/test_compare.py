"""Golden tests of compare() on seeded data, and its edge cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from drift import TESTS, DriftPolicy, FeaturePolicy, build_profile, compare
from drift.profile import numeric_profile

N = 200_000
SEVERE = {"medium", "high"}


@pytest.fixture(scope="module")
def golden():
    rng = np.random.default_rng(20240611)
    shares = [0.4, 0.3, 0.2, 0.1]
    moved = [0.25, 0.3, 0.2, 0.25]  # 0.15 of the mass moved from "a" to "d"
    names = ["a", "b", "c", "d"]
    reference = {
        "still": rng.normal(10, 2, size=N),
        "still_ties": rng.poisson(4, size=N).astype(float),
        "nudged": rng.normal(10, 2, size=N),
        "shifted": rng.normal(10, 2, size=N),
        "scaled": rng.normal(10, 2, size=N),
        "still_category": rng.choice(names, p=shares, size=N).tolist(),
        "moved_category": rng.choice(names, p=shares, size=N).tolist(),
    }
    current = {
        "still": rng.normal(10, 2, size=N),
        "still_ties": rng.poisson(4, size=N).astype(float),
        "nudged": rng.normal(10 + 0.05 * 2, 2, size=N),
        "shifted": rng.normal(10 + 0.5 * 2, 2, size=N),
        "scaled": rng.normal(10, 2 * 1.5, size=N),
        "still_category": rng.choice(names, p=shares, size=N).tolist(),
        "moved_category": rng.choice(names, p=moved, size=N).tolist(),
    }
    profiles = {
        name: build_profile(values, "categorical" if "category" in name else "numeric",
                            exact_limit=None)
        for name, values in reference.items()
    }
    return reference, current, compare(profiles, current)


def test_still_columns_do_not_drift(golden) -> None:
    report = golden[2]
    for name in ("still", "still_ties", "still_category"):
        feature = report.feature(name)
        assert not feature.drifted and feature.severity == "none", name


def test_a_tiny_shift_is_significant_but_not_drift(golden) -> None:
    nudged = golden[2].feature("nudged")
    assert nudged.p_value_adjusted < 1e-10  # the p-value alone would cry wolf
    assert nudged.tests["psi"].statistic < 0.1 and nudged.tests["wasserstein"].statistic < 0.1
    assert not nudged.drifted and nudged.severity == "none"


@pytest.mark.parametrize("name", ["shifted", "scaled", "moved_category"])
def test_real_changes_drift_with_at_least_medium_severity(golden, name: str) -> None:
    feature = golden[2].feature(name)
    assert feature.drifted and feature.severity in SEVERE


def test_dataset_verdict_and_order(golden) -> None:
    report = golden[2]
    assert [f.name for f in report.features] == list(golden[0])
    assert report.drifted_share == pytest.approx(3 / 7)
    assert report.dataset_drift is False
    assert report.alpha == 0.05
    assert compare({k: v for k, v in _profiles(golden).items() if k != "still"},
                   golden[1], DriftPolicy(dataset_share=0.4)).dataset_drift


def _profiles(golden):
    return {name: build_profile(values, "categorical" if "category" in name else "numeric",
                                exact_limit=None) for name, values in golden[0].items()}


def test_large_sample_statistics_equal_scipy(golden) -> None:
    reference, current, report = golden
    for name in ("still", "still_ties", "shifted"):
        ks = report.feature(name).tests["ks"]
        expected = stats.ks_2samp(reference[name], current[name])
        assert math.isclose(ks.statistic, expected.statistic, rel_tol=1e-9)
        assert ks.p_value == expected.pvalue or math.isclose(
            ks.p_value, expected.pvalue, rel_tol=1e-9
        )
        w = report.feature(name).tests["wasserstein"].statistic
        assert math.isclose(w, stats.wasserstein_distance(reference[name], current[name])
                            / np.std(reference[name]), rel_tol=1e-9)


def test_stream_sized_window_equals_scipy() -> None:
    rng = np.random.default_rng(7)
    reference, window = rng.normal(size=1000), rng.normal(0.3, size=998)
    report = compare({"x": build_profile(reference, "numeric")}, {"x": window})
    ks = report.feature("x").tests["ks"]
    expected = stats.ks_2samp(reference, window)
    assert (ks.statistic, ks.p_value) == (expected.statistic, expected.pvalue)


def test_missing_shares_are_reported_and_tests_use_the_rest() -> None:
    reference = np.array([1.0, 2.0, np.nan, 4.0] * 50)
    current = np.array([np.nan, np.nan, 3.0, 4.0] * 40)
    feature = compare({"x": build_profile(reference, "numeric")}, {"x": current}).feature("x")
    assert feature.missing_share_reference == 0.25 and feature.missing_share_current == 0.5
    assert (feature.n_reference, feature.n_current) == (200, 160)
    expected = stats.ks_2samp(reference[~np.isnan(reference)], current[~np.isnan(current)])
    assert feature.tests["ks"].statistic == expected.statistic


def test_a_column_gone_missing_is_high_drift() -> None:
    small = DriftPolicy(min_sample=1)
    profile = build_profile([1.0, 2.0, 3.0], "numeric")
    gone = compare({"x": profile}, {"x": np.full(5, np.nan)}, small).feature("x")
    assert gone.drifted and gone.severity == "high" and gone.p_value_adjusted == 0.0
    assert set(gone.tests) == {"missing_share"} and gone.missing_share_current == 1.0
    never = compare({"x": numeric_profile([np.nan])}, {"x": np.full(5, np.nan)},
                    small).feature("x")
    assert not never.drifted and never.p_value_adjusted == 1.0
    empty = compare({"x": profile}, {"x": np.array([])}, small).feature("x")
    assert not empty.drifted and empty.n_current == 0 and empty.status == "insufficient_data"


def test_benjamini_hochberg_is_applied_across_features() -> None:
    rng = np.random.default_rng(3)
    reference = {f"x{i}": build_profile(rng.normal(size=500), "numeric") for i in range(5)}
    current = {f"x{i}": rng.normal(0.2 if i == 0 else 0.0, size=500) for i in range(5)}
    report = compare(reference, current)
    raw = [f.tests["ks"].p_value for f in report.features]
    adjusted = stats.false_discovery_control(raw, method="bh")
    assert np.allclose([f.p_value_adjusted for f in report.features], adjusted, rtol=1e-12)


def test_per_feature_policy_and_test_selection() -> None:
    rng = np.random.default_rng(4)
    reference = {"x": build_profile(rng.normal(size=5000), "numeric")}
    current = {"x": rng.normal(0.5, size=5000)}
    assert compare(reference, current).feature("x").drifted
    strict = DriftPolicy(features={"x": FeaturePolicy(tests=("ks", "psi"), min_psi=5.0)})
    feature = compare(reference, current, strict).feature("x")
    assert set(feature.tests) == {"ks", "psi"} and not feature.drifted


def test_bad_current_values_are_value_errors() -> None:
    reference = {
        "x": build_profile([1.0, 2.0], "numeric"),
        "c": build_profile(["a"], "categorical"),
    }
    with pytest.raises(ValueError, match="feature 'x'"):
        compare(reference, {"x": ["a", "b"], "c": ["a"]})
    with pytest.raises(ValueError, match="feature 'c'"):
        compare(reference, {"x": [1.0], "c": "abc"})


def test_registry_is_explicit_and_complete() -> None:
    assert set(TESTS) == {"ks", "psi", "wasserstein", "chi2", "jensen_shannon", "missing_share"}
    assert all(callable(spec.run) and spec.name == name for name, spec in TESTS.items())


def test_report_to_dict_shape() -> None:
    report = compare({"x": build_profile([1.0, 2.0, 3.0], "numeric")}, {"x": [1.0, 2.0, 9.0]},
                     DriftPolicy(min_sample=3))
    data = report.to_dict()
    assert list(data) == ["dataset_drift", "drifted_share", "alpha", "features", "new_features"]
    assert set(data["features"][0]["tests"]) == {"ks", "psi", "wasserstein", "missing_share"}
    assert data["features"][0]["tests"]["psi"]["p_value"] is None
    assert list(data["features"][0]["tests"]["ks"]) == ["statistic", "p_value", "effect",
                                                         "drifted"]


def test_counted_categories_give_the_same_report_as_values() -> None:
    reference = {"c": build_profile(["a"] * 30 + ["b"] * 10 + [None] * 2, "categorical")}
    values = ["a"] * 10 + ["b"] * 25 + ["z"] * 3 + [None, ""]
    counted = {"a": 10, "b": 25, "z": 3, None: 1, "": 1}
    assert compare(reference, {"c": values}) == compare(reference, {"c": counted})
    with pytest.raises(ValueError, match="non-negative integers"):
        compare(reference, {"c": {"a": -1}})


def test_threads_do_not_change_the_result(golden) -> None:
    reference, current, report = golden
    assert compare(_profiles(golden), current, workers=3) == report

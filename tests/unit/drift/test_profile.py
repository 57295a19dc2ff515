"""Reference profiles: contents, exact-value cap, versioned JSON and its validation."""

from __future__ import annotations

import json

import numpy as np
import pytest

from drift.profile import (
    EXACT_VALUES_LIMIT,
    SKETCH_STEPS,
    CategoricalProfile,
    NumericProfile,
    build_profile,
    numeric_profile,
    profiles_from_dict,
    profiles_to_dict,
)


def test_numeric_profile_contents() -> None:
    values = np.array([3.0, np.nan, 1.0, np.inf, 2.0, 4.0])
    profile = numeric_profile(values, bins=4)
    assert (profile.n, profile.missing, profile.valid) == (6, 2, 4)
    assert profile.values is not None and profile.values.tolist() == [1.0, 2.0, 3.0, 4.0]
    assert profile.quantiles.size == SKETCH_STEPS + 1
    assert profile.quantiles[0] == 1.0 and profile.quantiles[-1] == 4.0
    assert profile.mean == 2.5 and profile.std == pytest.approx(np.std([1, 2, 3, 4]))
    assert profile.shares.sum() == pytest.approx(1.0)
    with pytest.raises(ValueError):
        profile.values[0] = 9.0  # read-only: a frozen profile stays frozen


def test_exact_values_are_capped_unless_asked_otherwise() -> None:
    big = np.arange(EXACT_VALUES_LIMIT + 1, dtype=float)
    assert numeric_profile(big).values is None
    assert numeric_profile(big, exact_limit=None).values is not None
    assert numeric_profile(big[:-1]).values is not None


def test_all_missing_profile() -> None:
    profile = numeric_profile([np.nan, np.nan])
    assert (profile.n, profile.missing, profile.edges.size, profile.quantiles.size) == (2, 2, 0, 0)


def test_round_trip_through_json() -> None:
    rng = np.random.default_rng(0)
    profiles = {
        "x": build_profile(rng.normal(size=20_000), "numeric"),
        "small": build_profile([1.5, 2.5, np.nan], "numeric", bins=3),
        "c": build_profile(["a", "b", None, "a"], "categorical"),
    }
    document = json.loads(json.dumps(profiles_to_dict(profiles)))
    assert document["format"] == "driftline.profile" and document["version"] == 1
    again = profiles_from_dict(document)
    assert list(again) == ["x", "small", "c"]
    assert profiles_to_dict(again) == profiles_to_dict(profiles)
    assert isinstance(again["x"], NumericProfile) and again["x"].values is None
    assert isinstance(again["c"], CategoricalProfile)
    assert dict(again["c"].counts) == {"a": 2, "b": 1}


def _document() -> dict:
    return profiles_to_dict({"x": build_profile([1.0, 2.0, 3.0, 4.0], "numeric", bins=2),
                             "c": build_profile(["a", "b"], "categorical")})


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(format="other"), "not a driftline profile"),
        (lambda d: d.update(version=2), "unsupported profile version 2"),
        (lambda d: d.update(features={}), "'features' must be a list"),
        (lambda d: d["features"].append(dict(d["features"][0])), "feature 'x' appears twice"),
        (lambda d: d["features"][0].update(kind="text"), "feature 'x': unknown kind 'text'"),
        (lambda d: d["features"][0].update(shares=[0.9, 0.9]), "feature 'x': shares must sum to 1"),
        (lambda d: d["features"][0].update(values=[4.0, 3.0, 2.0, 1.0]), "sorted"),
        (lambda d: d["features"][0].update(values=[1.0, 2.0, float("nan"), 4.0]), "sorted"),
        (lambda d: d["features"][0].update(edges=[3.0, 2.0]), "strictly increasing"),
        (lambda d: d["features"][0].update(n="4"), "'n' must be an integer"),
        (lambda d: d["features"][0].pop("quantiles"), "missing key"),
        (lambda d: d["features"][0].update(colour="red"), "unknown key"),
        (lambda d: d["features"][1].update(counts={"a": 1, "b": -1}), "positive integers"),
        (lambda d: d["features"][1].update(n=7), "n must equal"),
        (lambda d: d["features"][1].update(counts=[1, 2]), "'counts' must be an object"),
    ],
)
def test_bad_documents_are_rejected_with_a_clear_message(mutate, message: str) -> None:
    document = _document()
    mutate(document)
    with pytest.raises(ValueError, match=message):
        profiles_from_dict(document)


def test_unknown_kind_to_build() -> None:
    with pytest.raises(ValueError, match="kind must be"):
        build_profile([1.0], "text")  # type: ignore[arg-type]

"""driftline's statistics core: pure functions and frozen results, no I/O.

The stream worker and ``driftline detect`` share one entry point::

    from drift import DriftPolicy, build_profile, compare

    reference = {"age": build_profile(ages, "numeric"), "country": build_profile(cs, "categorical")}
    report = compare(reference, {"age": window_ages, "country": window_countries}, DriftPolicy())

Importing it loads numpy only: ``scipy.stats`` is imported on first use, when a sample is
small enough for scipy's exact KS distribution (see :mod:`drift.kolmogorov`).
"""

from drift.compare import compare
from drift.policy import DriftPolicy, FeaturePolicy, benjamini_hochberg
from drift.profile import (
    EXACT_VALUES_LIMIT,
    CategoricalProfile,
    NumericProfile,
    Profile,
    build_profile,
    categorical_profile,
    numeric_profile,
    profiles_from_dict,
    profiles_to_dict,
)
from drift.results import DatasetReport, FeatureReport, Kind, Severity, TestResult
from drift.stattests import TESTS

__all__ = [
    "EXACT_VALUES_LIMIT",
    "TESTS",
    "CategoricalProfile",
    "DatasetReport",
    "DriftPolicy",
    "FeaturePolicy",
    "FeatureReport",
    "Kind",
    "NumericProfile",
    "Profile",
    "Severity",
    "TestResult",
    "benjamini_hochberg",
    "build_profile",
    "categorical_profile",
    "compare",
    "numeric_profile",
    "profiles_from_dict",
    "profiles_to_dict",
]

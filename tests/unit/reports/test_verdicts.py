"""One wording of a verdict for the HTML reports and the demo: the statistic that decided."""

from __future__ import annotations

import doctest

import reports.verdicts
from drift import DriftPolicy
from reports.verdicts import deciding, event_outcomes, explain_event

GATES = DriftPolicy().default  # min_psi 0.1, min_distance 0.1


def _event(psi: float, distance: float | None, drifted: bool, adjusted: float = 1e-6) -> dict:
    tests = {"chi2": {"statistic": 40.0, "p_value": 1e-7}, "psi": {"statistic": psi,
                                                                   "p_value": None}}
    if distance is not None:
        tests["jensen_shannon"] = {"statistic": distance, "p_value": None}
    return {"test": "chi2", "statistic": 40.0, "p_value": 1e-7, "p_value_adjusted": adjusted,
            "drifted": drifted, "effect": psi, "tests": tests}


def test_a_stream_event_is_worded_like_a_detect_report() -> None:
    assert explain_event(_event(0.05, 0.2, True), 0.05, GATES) == (
        "drifted: chi² significant (adjusted p 1e-06, α 0.05), passed on the distance: "
        "Jensen–Shannon 0.2 ≥ 0.1; PSI 0.05 < 0.1")
    assert explain_event(_event(0.3, 0.2, True), 0.05, GATES).endswith(
        "passed on PSI and Jensen–Shannon: PSI 0.3 ≥ 0.1; Jensen–Shannon 0.2 ≥ 0.1")
    assert explain_event(_event(0.02, 0.01, False), 0.05, GATES) == (
        "not drifted: chi² significant (adjusted p 1e-06) but the shift is immaterial "
        "(PSI 0.02 < 0.1, Jensen–Shannon 0.01 < 0.1)")
    assert explain_event(_event(0.02, 0.01, False, adjusted=0.3), 0.05, GATES) == (
        "not drifted: chi² adjusted p 0.3 ≥ α 0.05")


def test_brief_names_psi_alone_when_it_decided() -> None:
    assert deciding(event_outcomes(_event(0.3, 0.2, True), GATES), GATES, brief=True) == (
        "passed on PSI 0.3 ≥ 0.1")
    assert deciding(event_outcomes(_event(0.05, 0.2, True), GATES), GATES, brief=True) == (
        "passed on the distance: Jensen–Shannon 0.2 ≥ 0.1; PSI 0.05 < 0.1")


def test_a_stored_row_without_its_distance_still_says_what_opened_the_gate() -> None:
    row = {"test": "ks", "statistic": 0.2, "p_value": 1e-9, "p_value_adjusted": 1e-8,
           "drifted": True, "effect": 0.07}
    assert explain_event(row, 0.05, GATES) == (
        "drifted: KS significant (adjusted p 1e-08, α 0.05), passed on the distance "
        "(not stored): PSI 0.07 < 0.1")


def test_the_examples_run() -> None:
    result = doctest.testmod(reports.verdicts)
    assert result.failed == 0 and result.attempted >= 2


def test_window_tests_are_the_hypothesis_tests() -> None:
    from drift.stattests import HYPOTHESIS_TESTS
    from reports.verdicts import WINDOW_TESTS

    assert set(WINDOW_TESTS) == HYPOTHESIS_TESTS

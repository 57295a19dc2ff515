"""Words for a verdict: which statistic decided it, said the same way everywhere.

A feature drifts when its hypothesis test is significant after Benjamini–Hochberg **and**
an effect gate opens (PSI or a distance past its threshold). A reader who sees
"PSI 0.09" next to "drifted" needs to be told that the distance opened the gate; these
functions say so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

TEST_NAMES = {"ks": "KS", "chi2": "chi²", "psi": "PSI", "wasserstein": "Wasserstein",
              "jensen_shannon": "Jensen–Shannon", "missing_share": "missing share"}
#: the policy attribute holding each effect test's threshold (where the policy has one)
GATES = {"psi": "min_psi", "wasserstein": "min_distance", "jensen_shannon": "min_distance"}
SEVERITY_RANK = {"high": 3, "medium": 2, "low": 1, "none": 0}
#: the tests a stream window's verdict is stored under, one event per feature and window
#: (``drift.stattests.HYPOTHESIS_TESTS``); online detectors' events mark single events
WINDOW_TESTS = ("ks", "chi2")


def test_name(name: str) -> str:
    return TEST_NAMES.get(name, name.replace("_", " "))


def gate_word(name: str) -> str:
    """``"the distance"`` for Wasserstein / Jensen–Shannon, else the test's name."""
    return "the distance" if name in ("wasserstein", "jensen_shannon") else test_name(name)


def status(feature: Any) -> str:
    """``drifted``, ``stable``, or what the report says instead (``absent``,
    ``insufficient_data``) when the feature could not be tested."""
    said = getattr(feature, "status", None)
    if said in ("absent", "insufficient_data"):
        return str(said)
    return "drifted" if feature.drifted else "stable"


def _fmt(value: float) -> str:
    return f"{value:.3g}"


def _p(value: float | None) -> str:
    if value is None:
        return "n/a"
    return "< 1e-300" if value == 0 else f"{value:.2g}"


@dataclass(frozen=True)
class Outcome:
    """What the wording needs of one test: its statistic, its p-value (``None`` for an
    effect test) and, for an effect test, whether its gate opened."""

    statistic: float | None
    p_value: float | None = None
    passed: bool = False


def _outcomes(feature: Any) -> dict[str, Outcome]:
    return {name: Outcome(r.statistic, r.p_value, bool(r.drifted))
            for name, r in feature.tests.items()}


def _gate(name: str, thresholds: Any) -> float | None:
    attr = GATES.get(name)
    value = getattr(thresholds, attr, None) if attr and thresholds is not None else None
    return float(value) if isinstance(value, int | float) else None


def event_outcomes(record: Mapping[str, Any], thresholds: Any) -> dict[str, Outcome]:
    """The tests of a stream drift event (``drift-events``, or a stored drift row as a
    mapping): name → :class:`Outcome`.

    The event keeps each test's statistic and p-value but not whether its effect gate
    opened; that is read here against ``thresholds`` (the worker's ``min_psi`` /
    ``min_distance``). An event without ``tests`` (a stored row) has its primary test and
    PSI (``effect``) only.
    """
    tests = record.get("tests")
    if not isinstance(tests, Mapping) or not tests:
        tests = {record["test"]: {"statistic": record.get("statistic"),
                                  "p_value": record.get("p_value")}}
        if record.get("effect") is not None:
            tests["psi"] = {"statistic": record["effect"], "p_value": None}
    out = {}
    for name, test in tests.items():
        if not isinstance(test, Mapping):
            continue
        statistic, p_value = test.get("statistic"), test.get("p_value")
        gate = _gate(name, thresholds) if p_value is None else None
        passed = gate is not None and statistic is not None and statistic >= gate
        out[name] = Outcome(statistic, p_value, passed)
    return out


def _quote(name: str, outcome: Outcome, thresholds: Any) -> str:
    gate = _gate(name, thresholds)
    text = f"{test_name(name)} {_fmt(outcome.statistic)}"
    if gate is not None:
        text += f" {'≥' if outcome.passed else '<'} {gate:g}"
    return text


def deciding(outcomes: Mapping[str, Outcome], thresholds: Any = None, brief: bool = False) -> str:
    """For a drifted feature, the effect gate that let it drift, with the numbers:
    ``"passed on the distance: Wasserstein 0.14 ≥ 0.1; PSI 0.09 < 0.1"``.

    ``brief`` (the demo's one-line windows) names only the statistic that decided when
    PSI opened the gate (``"passed on PSI 0.68 ≥ 0.1"``); when PSI did not, it always says
    which distance did and quotes PSI below its gate, so a low PSI next to "drifted" never
    reads as a contradiction.

    >>> deciding({"psi": Outcome(0.09), "wasserstein": Outcome(0.14, passed=True)},
    ...          thresholds=None, brief=True)
    'passed on the distance: Wasserstein 0.14; PSI 0.09'
    """
    effects = [(n, o) for n, o in outcomes.items() if o.p_value is None]
    opened = [(n, o) for n, o in effects if o.passed]
    closed = [(n, o) for n, o in effects if not o.passed]
    psi = next(((n, o) for n, o in opened if n == "psi"), None)
    if brief and psi is not None:
        return f"passed on {_quote(*psi, thresholds)}"
    if not opened:
        # a stored row keeps PSI only: the gate that opened was the distance, unrecorded
        quoted = "; ".join(_quote(n, o, thresholds) for n, o in closed)
        return "passed on the distance" + (f" (not stored): {quoted}" if quoted else "")
    if len(opened) == 1:
        on = gate_word(opened[0][0])
    else:
        on = " and ".join(test_name(n) for n, _ in opened)
    detail = "; ".join([_quote(n, o, thresholds) for n, o in opened]
                       + [_quote(n, o, thresholds) for n, o in closed])
    return f"passed on {on}: {detail}"


def _sentence(drifted: bool, outcomes: Mapping[str, Outcome], adjusted: float | None,
              alpha: float, thresholds: Any) -> str:
    hypothesis = next((n for n, o in outcomes.items() if o.p_value is not None), None)
    hyp = test_name(hypothesis) if hypothesis else "the test"
    if drifted:
        return (f"drifted: {hyp} significant (adjusted p {_p(adjusted)}, α {alpha:g}), "
                + deciding(outcomes, thresholds))
    if adjusted is not None and adjusted < alpha:
        detail = ", ".join(_quote(n, o, thresholds) for n, o in outcomes.items()
                           if o.p_value is None)
        return (f"not drifted: {hyp} significant (adjusted p {_p(adjusted)}) but the shift is "
                f"immaterial ({detail})")
    return f"not drifted: {hyp} adjusted p {_p(adjusted)} ≥ α {alpha:g}"


def explain(feature: Any, alpha: float, thresholds: Any = None) -> str:
    """One sentence: the verdict and the statistic that decided it.

    ``feature`` is a :class:`drift.FeatureReport`; ``thresholds`` the feature's policy
    (anything with ``min_psi`` / ``min_distance`` attributes), to quote the gates.
    """
    state = status(feature)
    if state == "absent":
        return "drifted: the column is absent from the current data"
    if state == "insufficient_data":
        return "not tested: too few rows on one side"
    if not feature.tests:
        return ("drifted: one side has no observed values" if feature.drifted
                else "not drifted: neither side has observed values")
    return _sentence(bool(feature.drifted), _outcomes(feature), feature.p_value_adjusted,
                     alpha, thresholds)


def explain_event(record: Mapping[str, Any], alpha: float, thresholds: Any = None) -> str:
    """:func:`explain` for a stream window's drift event (or stored drift row)."""
    adjusted = record.get("p_value_adjusted")
    return _sentence(bool(record.get("drifted")), event_outcomes(record, thresholds),
                     adjusted if adjusted is not None else record.get("p_value"), alpha,
                     thresholds)


def order(features: Any) -> list[Any]:
    """Drifted first (most severe, then most significant), then the rest by name."""
    def key(f: Any) -> tuple[int, int, float, str]:
        state = status(f)
        adjusted = f.p_value_adjusted if f.p_value_adjusted is not None else 1.0
        return (0 if state in ("drifted", "absent") else 1, -SEVERITY_RANK.get(f.severity, 0),
                adjusted, f.name)

    return sorted(features, key=key)


def _evidence(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3g}" if value == 0 or 1e-3 <= abs(value) < 1e4 else f"{value:.2e}"
    if isinstance(value, Mapping):
        return "[" + ", ".join(f"{k} {_evidence(v)}" for k, v in value.items()) + "]"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_evidence(v) for v in value) + "]"
    return str(value)


def criterion_text(name: str, result: Mapping[str, Any]) -> str:
    """A promotion criterion whole: verdict, then its evidence, the p-value first.

    >>> criterion_text("significance", {"passed": True, "test": "mcnemar_exact",
    ...                                 "alpha": 0.05, "p_value": 0.00012})
    'significance: passed — p_value 1.20e-04, test mcnemar_exact, alpha 0.05'
    """
    evidence = {k: v for k, v in result.items() if k != "passed"}
    keys = sorted(evidence, key=lambda k: (k != "p_value", list(evidence).index(k)))
    words = ", ".join(f"{k} {_evidence(evidence[k])}" for k in keys)
    verdict = "passed" if result.get("passed") else "FAILED"
    return f"{name}: {verdict}" + (f" — {words}" if words else "")

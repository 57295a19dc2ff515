"""Words for a verdict: which statistic decided it, said the same way everywhere.

A feature drifts when its hypothesis test is significant after Benjamini–Hochberg **and**
an effect gate opens (PSI or a distance past its threshold). A reader who sees
"PSI 0.09" next to "drifted" needs to be told that the distance opened the gate; these
functions say so.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

TEST_NAMES = {"ks": "KS", "chi2": "chi²", "psi": "PSI", "wasserstein": "Wasserstein",
              "jensen_shannon": "Jensen–Shannon", "missing_share": "missing share"}
#: the policy attribute holding each effect test's threshold (where the policy has one)
GATES = {"psi": "min_psi", "wasserstein": "min_distance", "jensen_shannon": "min_distance"}
SEVERITY_RANK = {"high": 3, "medium": 2, "low": 1, "none": 0}


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
    tests: Mapping[str, Any] = feature.tests
    if not tests:
        return ("drifted: one side has no observed values" if feature.drifted
                else "not drifted: neither side has observed values")
    hypothesis = next((n for n, r in tests.items() if r.p_value is not None), None)
    adjusted = feature.p_value_adjusted
    effects = [(n, r) for n, r in tests.items() if r.p_value is None]
    opened = [(n, r) for n, r in effects if r.drifted]
    closed = [(n, r) for n, r in effects if not r.drifted]

    def quote(name: str, result: Any, passed: bool) -> str:
        attr = GATES.get(name)
        gate = getattr(thresholds, attr, None) if attr and thresholds is not None else None
        text = f"{test_name(name)} {_fmt(result.statistic)}"
        if gate is not None:
            text += f" {'≥' if passed else '<'} {gate:g}"
        return text

    hyp = test_name(hypothesis) if hypothesis else "the test"
    significant = adjusted is not None and adjusted < alpha
    if feature.drifted:
        words = f"drifted: {hyp} significant (adjusted p {_p(adjusted)}, α {alpha:g})"
        if opened:
            deciding = opened[0][0] if len(opened) == 1 else None
            on = f"on {gate_word(deciding)}" if deciding else "on " + " and ".join(
                test_name(n) for n, _ in opened)
            detail = "; ".join([quote(n, r, True) for n, r in opened]
                               + [quote(n, r, False) for n, r in closed])
            words += f", and passed {on} ({detail})"
        return words
    if significant:
        detail = ", ".join(quote(n, r, False) for n, r in effects)
        return (f"not drifted: {hyp} significant (adjusted p {_p(adjusted)}) but the shift is "
                f"immaterial ({detail})")
    return f"not drifted: {hyp} adjusted p {_p(adjusted)} ≥ α {alpha:g}"


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

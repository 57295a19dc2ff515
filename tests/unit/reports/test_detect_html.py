"""The HTML report: self-contained, one chart per column, drifted columns first and marked,
the deciding statistic named, names escaped."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np

from drift import DriftPolicy, FeatureReport, TestResult, build_profile, compare
from reports import ReportContext, column_charts, render_detect_report
from reports.verdicts import explain


def _case() -> tuple[object, dict[str, object], DriftPolicy]:
    rng = np.random.default_rng(7)
    n = 3000
    reference = {
        "still": rng.normal(0, 1, n),
        "moved": rng.normal(0, 1, n),
        "colour": rng.choice(["red", "green", "blue"], p=[0.5, 0.3, 0.2], size=n).tolist(),
        "<script>alert(1)</script>": rng.normal(0, 1, n),
    }
    current = {
        "still": rng.normal(0, 1, n),
        "moved": rng.normal(1.0, 1, n),
        "colour": rng.choice(["red", "green", "blue"], p=[0.2, 0.3, 0.5], size=n).tolist(),
        "<script>alert(1)</script>": rng.normal(0, 1, n),
    }
    kinds = {"colour": "categorical"}
    profiles = {k: build_profile(v, kinds.get(k, "numeric")) for k, v in reference.items()}
    policy = DriftPolicy()
    report = compare(profiles, current, policy)
    html = render_detect_report(report, column_charts(profiles, current), ReportContext(
        reference="ref.csv", current="cur.csv", generated_at="2026-01-01 00:00 UTC",
        policy=policy))
    return report, {"html": html}, policy


def test_the_report_fetches_nothing() -> None:
    _, out, _ = _case()
    html = out["html"]
    assert isinstance(html, str)
    # the only URL is SVG's namespace name, which no browser fetches
    urls = set(re.findall(r"https?://[^\s\"'<>]+", html))
    assert urls == {"http://www.w3.org/2000/svg"}
    assert not re.search(r"<(link|img|iframe|object|embed)\b", html)
    assert not re.search(r"\bsrc=", html)
    assert "<script>" not in html.replace('<script type="application/json"', "")


def test_a_chart_per_column_drifted_first_and_marked() -> None:
    report, out, _ = _case()
    html = str(out["html"])
    sections = re.findall(r'<section class="([^"]+)" id="([^"]+)" data-status="([^"]+)"', html)
    assert len(sections) == 4
    assert html.count("<svg") == 4
    statuses = [status for _, _, status in sections]
    assert statuses[:2] == ["drifted", "drifted"] and statuses[2:] == ["stable", "stable"]
    assert all("drifted" in css for css, _, status in sections if status == "drifted")
    assert html.count("verdict-drifted") == 2
    # the report's own JSON rides along, unchanged
    data = re.search(r'<script type="application/json" id="driftline-report">(.*?)</script>',
                     html, re.S)
    assert data is not None
    assert json.loads(data.group(1)) == json.loads(
        json.dumps(report.to_dict()))  # type: ignore[attr-defined]


def test_column_names_are_escaped() -> None:
    _, out, _ = _case()
    html = str(out["html"])
    assert "<script>alert(1)</script>" not in html.split('id="driftline-report"')[0]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def _feature(psi: float, distance: float, adjusted: float, drifted: bool) -> FeatureReport:
    tests = {
        "ks": TestResult("ks", 0.05, 1e-6, 0.05, adjusted < 0.05, "low"),
        "psi": TestResult("psi", psi, None, psi, psi >= 0.1, "low"),
        "wasserstein": TestResult("wasserstein", distance, None, distance, distance >= 0.1, "low"),
    }
    return FeatureReport("x", "numeric", drifted, "low" if drifted else "none", adjusted,
                         0.0, 0.0, tests, 1000, 1000)


def test_the_deciding_statistic_is_named() -> None:
    policy = DriftPolicy().default
    on_distance = explain(_feature(0.09, 0.14, 1e-5, True), 0.05, policy)
    assert "passed on the distance" in on_distance
    assert "Wasserstein 0.14 ≥ 0.1" in on_distance and "PSI 0.09 < 0.1" in on_distance
    immaterial = explain(_feature(0.02, 0.03, 1e-5, False), 0.05, policy)
    assert immaterial.startswith("not drifted") and "immaterial" in immaterial
    quiet = explain(_feature(0.02, 0.03, 0.4, False), 0.05, policy)
    assert quiet == "not drifted: KS adjusted p 0.4 ≥ α 0.05"


def test_reports_is_pure() -> None:
    code = ("import json, sys, reports, reports.svg, reports.verdicts\n"
            "print(json.dumps([m for m in sys.modules if m.split('.')[0] in "
            "('faust', 'sqlalchemy', 'httpx', 'settings', 'aiokafka', 'fastapi', 'pandas')]))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True).stdout
    assert json.loads(loaded) == []

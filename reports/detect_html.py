"""``driftline detect --format html``: a drift report as one self-contained HTML file.

Pure: a :class:`drift.DatasetReport`, the charts of :mod:`reports.charts` and a few facts
(file names, the policy, a timestamp the caller chose) in, a string out. The file fetches
nothing — styles are inlined, charts are inline SVG — so it opens offline and attached to
an e-mail. It also carries the report's JSON (an inert ``application/json`` block, ``<`` escaped), so
the numbers can be read back by a program.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from html import escape
from typing import Any

from reports import verdicts
from reports.charts import CategoryShares, Chart, Histogram
from reports.style import REPORT_CSS
from reports.svg import categories_svg, fmt, fmt_p, histogram_svg, pct


@dataclass(frozen=True)
class ReportContext:
    """What the report says about its inputs besides the statistics."""

    reference: str
    current: str
    generated_at: str
    #: the drift policy (``alpha``, ``dataset_share``, ``default``, ``for_feature``)
    policy: Any = None


def render_detect_report(report: Any, charts: Mapping[str, Chart], context: ReportContext) -> str:
    """The whole HTML document for one ``detect`` run."""
    features = verdicts.order(report.features)
    drifted = [f for f in features if verdicts.status(f) in ("drifted", "absent")]
    counted = [f for f in features if verdicts.status(f) != "insufficient_data"]
    title = f"driftline drift report — {context.current}"
    body = [
        f"<h1>Drift report</h1><p class=\"meta\">reference <b>{escape(context.reference)}</b> · "
        f"current <b>{escape(context.current)}</b> · generated {escape(context.generated_at)} "
        "by driftline detect</p>",
        _summary(report, drifted, counted, context),
        _toc(features),
        *(_column(f, charts.get(f.name), report.alpha, context.policy) for f in features),
    ]
    data = json.dumps(report.to_dict(), allow_nan=False, separators=(",", ":"))
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
        f"<title>{escape(title)}</title><style>{REPORT_CSS}</style></head><body><main>"
        + "".join(body)
        + "</main><script type=\"application/json\" id=\"driftline-report\">"
        + data.replace("<", "\\u003c") + "</script></body></html>\n"
    )


def _summary(report: Any, drifted: list[Any], counted: list[Any], context: ReportContext) -> str:
    policy = context.policy
    yes = bool(report.dataset_drift)
    rows = [
        ("dataset drift", "<b>YES</b>" if yes else "no"),
        ("drifted columns", f"{len(drifted)} of {len(counted)} ({pct(report.drifted_share, 0)})"),
    ]
    if policy is not None:
        rows.append(("policy", _policy(policy)))
    else:
        rows.append(("policy", f"α {report.alpha:g} after Benjamini–Hochberg"))
    new = getattr(report, "new_features", ())
    if new:
        rows.append(("new columns", escape(", ".join(new)) + " (not in the reference, not tested)"))
    untested = [f.name for f in report.features if verdicts.status(f) == "insufficient_data"]
    if untested:
        rows.append(("too few rows", escape(", ".join(untested))))
    table = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    verdict = ("The dataset drifted." if yes else "No dataset drift.")
    return (f"<section class=\"summary {'yes' if yes else 'no'}\" id=\"summary\">"
            f"<p class=\"verdict\">{verdict}</p><table>{table}</table></section>")


def _policy(policy: Any) -> str:
    default = getattr(policy, "default", None)
    words = [f"α {policy.alpha:g} after Benjamini–Hochberg",
             f"dataset drifts from {pct(policy.dataset_share, 0)} of columns drifted"]
    if default is not None:
        gates = []
        if hasattr(default, "min_psi"):
            gates.append(f"PSI ≥ {default.min_psi:g}")
        if hasattr(default, "min_distance"):
            gates.append(f"distance ≥ {default.min_distance:g}")
        if gates:
            words.append("effect gate: " + " or ".join(gates))
        if hasattr(default, "medium_psi") and hasattr(default, "high_psi"):
            words.append(f"severity medium from PSI {default.medium_psi:g}, high from "
                         f"{default.high_psi:g}")
    overrides = list(getattr(policy, "features", {}) or {})
    if overrides:
        words.append("own thresholds for " + ", ".join(overrides))
    return escape("; ".join(words))


def _toc(features: list[Any]) -> str:
    items = []
    for f in features:
        state = verdicts.status(f)
        mark = "● " if state in ("drifted", "absent") else ""
        items.append(f"<li><a href=\"#{_anchor(f.name)}\">{mark}{escape(f.name)}</a></li>")
    return f"<nav class=\"toc\" aria-label=\"columns\"><ul>{''.join(items)}</ul></nav>"


def _anchor(name: str) -> str:
    return "col-" + "".join(c if c.isalnum() or c in "-_" else f"_{ord(c):x}" for c in name)


def _badge(feature: Any) -> str:
    state = verdicts.status(feature)
    if state == "insufficient_data":
        return '<span class="badge s-untested">too few rows</span>'
    if state == "absent":
        return '<span class="badge s-high verdict-drifted">DRIFTED · absent</span>'
    if state == "drifted":
        severity = feature.severity
        return (f'<span class="badge s-{escape(severity)} verdict-drifted">DRIFTED · '
                f'{escape(severity)}</span>')
    return '<span class="badge s-none">no drift</span>'


def _column(feature: Any, chart: Chart | None, alpha: float, policy: Any) -> str:
    state = verdicts.status(feature)
    thresholds = policy.for_feature(feature.name) if policy is not None else None
    why = verdicts.explain(feature, alpha, thresholds)
    tests = "".join(
        f"<tr><td>{escape(verdicts.test_name(name))}</td><td class=\"num\">{fmt(r.statistic)}</td>"
        f"<td class=\"num\">{fmt_p(r.p_value)}</td>"
        f"<td class=\"num\">{fmt_p(feature.p_value_adjusted) if r.p_value is not None else '—'}</td>"
        f"<td class=\"num\">{fmt(r.effect)}</td><td>{'yes' if r.drifted else 'no'}</td></tr>"
        for name, r in feature.tests.items())
    table = ("<table class=\"tests\"><tr><th>test</th><th>statistic</th><th>p-value</th>"
             "<th>adjusted p</th><th>effect</th><th>past its threshold</th></tr>"
             f"{tests}</table>") if tests else ""
    facts = (f"<table class=\"facts\"><tr><th>rows</th><td class=\"num\">{feature.n_reference:,} "
             f"reference · {feature.n_current:,} current</td></tr><tr><th>missing</th>"
             f"<td class=\"num\">{pct(feature.missing_share_reference)} reference · "
             f"{pct(feature.missing_share_current) if state != 'absent' else '—'} current</td></tr>"
             "</table>")
    label = f"{feature.name}: reference and current distribution"
    if isinstance(chart, Histogram):
        picture = histogram_svg(chart, label) + _outside(chart)
    elif isinstance(chart, CategoryShares):
        picture = categories_svg(chart, label)
    else:
        picture = "<p class=\"note\">nothing to chart: no values on either side</p>"
    classes = "column drifted" if state in ("drifted", "absent") else "column"
    return (f"<section class=\"{classes}\" id=\"{_anchor(feature.name)}\" "
            f"data-status=\"{escape(state)}\" data-severity=\"{escape(feature.severity)}\">"
            f"<header><h2>{escape(feature.name)}</h2>{_badge(feature)}"
            f"<span class=\"meta\">{escape(feature.kind)}</span></header>"
            f"<p class=\"why\">{escape(why)}</p><div class=\"columns\"><div>{picture}</div>"
            f"<div>{facts}{table}</div></div></section>")


def _outside(chart: Histogram) -> str:
    """Say what the chart's range leaves out, so a long tail is never hidden silently."""
    sides = []
    for name, below, above in (("reference", chart.reference_below, chart.reference_above),
                               ("current", chart.current_below, chart.current_above)):
        if below + above >= 0.0005:
            sides.append(f"{name} {pct(below)} below, {pct(above)} above")
    if not sides:
        return ""
    return f"<p class=\"note\">outside the range shown: {escape('; '.join(sides))}</p>"

"""The report of one stream window (``/ui/models/{model}/report``): one self-contained HTML
file, like ``detect``'s, from the rows the worker stored for that window.

The stream keeps test results, not the window's values, so a column shows its tests and
its verdicts over the recent windows instead of a histogram.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

from reports.style import REPORT_CSS
from reports.svg import fmt, fmt_p, pct
from reports.verdicts import SEVERITY_RANK, WINDOW_TESTS, explain_event, test_name


@dataclass(frozen=True)
class WindowFacts:
    model: str
    version: str
    start_seq: int
    end_seq: int
    start: str
    end: str
    size: int


def _strip(history: Sequence[str]) -> str:
    """Severity per recent window as a row of squares, oldest first."""
    if not history:
        return ""
    cells = "".join(f'<rect class="s-{escape(s)}" x="{i * 12}" y="0" width="10" height="10">'
                    f"<title>{escape(s)}</title></rect>" for i, s in enumerate(history))
    width = 12 * len(history)
    return (f'<svg class="chart strip" xmlns="http://www.w3.org/2000/svg" width="{width}" '
            f'height="10" viewBox="0 0 {width} 10" role="img" aria-label="severity in the last '
            f'{len(history)} windows">{cells}</svg>')


def _why(row: Any, policy: Any) -> str:
    """The sentence :func:`reports.verdicts.explain` writes in ``detect``'s report."""
    if row.test not in WINDOW_TESTS:
        return f"online detector {row.test} fired" if row.drifted else ""
    if policy is None:
        return ""
    record = {name: getattr(row, name, None) for name in (
        "test", "statistic", "p_value", "p_value_adjusted", "drifted", "effect", "tests")}
    return explain_event(record, policy.alpha, policy)


def render_window_report(facts: WindowFacts, rows: Sequence[Any],
                         history: Mapping[str, Sequence[str]], policy: Any = None) -> str:
    """``rows``: the window's stored results (feature, kind, test, statistic, p_value,
    p_value_adjusted, effect, severity, drifted, missing_share, and ``tests`` where stored);
    ``history``: each feature's severities over the recent windows; ``policy``: anything
    with ``alpha``, ``min_psi`` and ``min_distance`` (the worker's drift settings)."""
    ordered = sorted(rows, key=lambda r: (not r.drifted, -SEVERITY_RANK.get(r.severity, 0),
                                          r.feature, r.test))
    drifted = sorted({r.feature for r in rows if r.drifted})
    features = sorted({r.feature for r in rows})
    body = [
        f"<h1>Window report — {escape(facts.model)}</h1><p class=\"meta\">version "
        f"<b>{escape(facts.version)}</b> · events {facts.start_seq:,}–{facts.end_seq:,} · "
        f"{escape(facts.start)} – {escape(facts.end)} · {facts.size:,} events</p>",
        f"<section class=\"summary {'yes' if drifted else 'no'}\" id=\"summary\">"
        f"<p class=\"verdict\">{len(drifted)} of {len(features)} drifted</p>"
        f"<p>{escape(', '.join(drifted)) if drifted else 'Nothing drifted in this window.'}</p>"
        "</section>",
    ]
    for r in ordered:
        tests: Mapping[str, Any] = getattr(r, "tests", None) or {}
        table_rows = [(test_name(r.test), r.statistic, r.p_value, r.p_value_adjusted)]
        for name, result in tests.items():
            if name != r.test and isinstance(result, Mapping):
                table_rows.append((test_name(name), result.get("statistic"), result.get("p_value"),
                                   None))
        table = "".join(
            f"<tr><td>{escape(n)}</td><td class=\"num\">{fmt(s)}</td><td class=\"num\">"
            f"{fmt_p(p)}</td><td class=\"num\">{fmt_p(a)}</td></tr>" for n, s, p, a in table_rows)
        badge = (f'<span class="badge s-{escape(r.severity)} verdict-drifted">DRIFTED · '
                 f'{escape(r.severity)}</span>' if r.drifted
                 else '<span class="badge s-none">no drift</span>')
        classes = "column drifted" if r.drifted else "column"
        body.append(
            f"<section class=\"{classes}\"><header><h2>{escape(r.feature)}</h2>{badge}"
            f"<span class=\"meta\">{escape(r.kind.replace('_', ' '))}</span></header>"
            + (f"<p class=\"why\">{escape(why)}</p>" if (why := _why(r, policy)) else "")
            + f"<table class=\"tests\"><tr><th>test</th><th>statistic</th><th>p-value</th>"
            f"<th>adjusted p</th></tr>{table}</table><p class=\"note\">effect {fmt(r.effect)} · "
            f"missing {pct(r.missing_share)} · recent windows {_strip(history.get(r.feature, ()))}"
            "</p></section>")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>driftline window report — {escape(facts.model)}</title>"
            f"<style>{REPORT_CSS}</style></head><body><main>{''.join(body)}</main></body></html>\n")

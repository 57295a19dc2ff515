"""Shapes the pages' data for the templates: heatmap cells with their classes and tooltips,
performance charts as SVG, the loop's rows with their criteria spelled out."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from markupsafe import Markup

from api.ui.queries import Heatmap, ModelHistory, Window
from reports.svg import Series, line_svg
from reports.verdicts import criterion_text
from reports.window_html import WindowFacts, render_window_report


def fmt_time(moment: datetime | None, seconds: bool = False) -> str:
    if moment is None:
        return "—"
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC" if seconds else "%Y-%m-%d %H:%M UTC")


def _heatmap(heat: Heatmap) -> dict[str, Any]:
    windows = [{"label": w.end.strftime("%H:%M:%S"),
                "title": f"v{w.version} · events {w.start_seq:,}–{w.end_seq:,} · "
                         f"{fmt_time(w.start, True)} – {fmt_time(w.end, True)}"}
               for w in heat.windows]
    rows = []
    for feature in heat.features:
        cells = []
        for i, window in enumerate(heat.windows):
            cell = heat.cells.get((feature, i))
            if cell is None:
                cells.append({"css": "s-untested", "mark": "", "title": f"{feature}: not tested"})
                continue
            verdict = f"drifted ({cell.severity})" if cell.drifted else "no drift"
            cells.append({"css": f"s-{cell.severity if cell.drifted else 'none'}",
                          "mark": "●" if cell.drifted else "",
                          "title": f"{feature} · {window.end.strftime('%H:%M:%S')}: {verdict} — "
                                   + "; ".join(cell.tests)})
        rows.append({"feature": feature, "cells": cells})
    return {"windows": windows, "rows": rows}


def _chart(series: Any) -> dict[str, Any]:
    lines = []
    if series.realized:
        lines.append(Series("realized", tuple((t.timestamp(), v) for t, v in series.realized),
                            "realized"))
    if series.estimated:
        lines.append(Series("estimated", tuple((t.timestamp(), v) for t, v in series.estimated),
                            "estimated", dashed=True))
    times = [t for t, _ in series.realized + series.estimated]
    labels = (fmt_time(min(times)), fmt_time(max(times))) if times else ("", "")
    svg = line_svg(lines, f"{series.metric} over time", band=series.band,
                   reference=series.reference, x_labels=labels)
    latest = series.realized[-1][1] if series.realized else None
    return {"metric": series.metric, "svg": Markup(svg), "latest": latest,  # noqa: S704 - escaped SVG
            "reference": series.reference, "band": series.band,
            "windows": len(series.realized), "estimated": len(series.estimated)}


def model_view(history: ModelHistory) -> dict[str, Any]:
    promotions = []
    for row in history.promotions:
        criteria = row.criteria if isinstance(row.criteria, dict) else {}
        promotions.append({"row": row, "criteria": [
            {"passed": bool(result.get("passed")) if isinstance(result, dict) else False,
             "text": criterion_text(name, result if isinstance(result, dict) else {})}
            for name, result in criteria.items()]})
    return {"heatmap": _heatmap(history.heatmap),
            "charts": [_chart(s) for s in history.performance],
            "promotions": promotions}


def window_report(model: str, window: Window, rows: list[Any], heat: Heatmap | None,
                  policy: Any = None) -> str:
    """``policy``: the worker's drift settings (``alpha``, ``min_psi``, ``min_distance``),
    to say which statistic decided each verdict."""
    history: dict[str, list[str]] = {}
    if heat is not None:
        for feature in heat.features:
            history[feature] = [
                (cell.severity if cell.drifted else "none") if cell is not None else "untested"
                for cell in (heat.cells.get((feature, i)) for i in range(len(heat.windows)))]
    facts = WindowFacts(model, window.version, window.start_seq, window.end_seq,
                        fmt_time(window.start, True), fmt_time(window.end, True), window.size)
    return render_window_report(facts, rows, history, policy)

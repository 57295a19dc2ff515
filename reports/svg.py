"""Charts as inline SVG strings, drawn on the server.

Why SVG drawn here rather than a charting library: the output is plain markup that any
browser of the last decade renders, offline, from a file attached to an e-mail, with no
script to run or keep patched; it prints, it scales, and a chart costs a few kilobytes
(a bundled library would cost a few hundred per file). The same functions draw the
``detect`` report and the live model pages, so both look alike.

Colours are CSS classes (``ref``, ``cur``, ``s-high``, ...) that the page's stylesheet
fills, so a chart carries no style of its own.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from reports.charts import CategoryShares, Histogram


def fmt(value: float | None, digits: int = 4) -> str:
    """A number in at most ``digits`` significant digits; ``—`` for none or NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:.{digits}g}"


def fmt_p(value: float | None) -> str:
    """A p-value: two significant digits, and ``< 1e-300`` where it underflowed to 0."""
    if value is None:
        return "—"
    if value == 0.0:
        return "< 1e-300"
    return f"{value:.2g}"


def pct(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value * 100:.{digits}f} %"


def _c(value: float) -> str:
    """A coordinate: one decimal is finer than a pixel and keeps the file small."""
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _open(width: int, height: int, label: str, css: str) -> str:
    return (f'<svg class="chart {css}" xmlns="http://www.w3.org/2000/svg" width="{width}" '
            f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
            f'aria-label="{escape(label)}"><title>{escape(label)}</title>')


def _tick(x: float, y: float, text: str, anchor: str = "start") -> str:
    """An axis label (escaped)."""
    where = "" if anchor == "start" else f' text-anchor="{anchor}"'
    return f'<text class="tick" x="{_c(x)}" y="{_c(y)}"{where}>{escape(text)}</text>'


def _legend(x: float, y: float) -> str:
    return (f'<rect class="ref" x="{_c(x)}" y="{_c(y - 8)}" width="10" height="8"/>'
            f'<text x="{_c(x + 14)}" y="{_c(y)}">reference</text>'
            f'<rect class="cur" x="{_c(x + 84)}" y="{_c(y - 8)}" width="10" height="8"/>'
            f'<text x="{_c(x + 98)}" y="{_c(y)}">current</text>')


def histogram_svg(chart: Histogram, label: str, width: int = 560, height: int = 180) -> str:
    """Reference (filled) and current (outlined) shares per bin, on one axis."""
    left, right, top, bottom = 44, 8, 18, 24
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max(max(chart.reference, default=0.0), max(chart.current, default=0.0)) or 1.0
    n = len(chart.reference)
    base = top + plot_h

    def step(shares: Sequence[float]) -> str:
        points = [f"M{_c(left)},{_c(base)}"]
        for i, share in enumerate(shares):
            y = base - share / peak * plot_h
            points.append(f"L{_c(left + i * plot_w / n)},{_c(y)}L{_c(left + (i + 1) * plot_w / n)},{_c(y)}")
        points.append(f"L{_c(left + plot_w)},{_c(base)}Z")
        return "".join(points)

    first, last = chart.edges[0], chart.edges[-1]
    middle = (first + last) / 2
    parts = [
        _open(width, height, label, "histogram"),
        f'<path class="ref" d="{step(chart.reference)}"/>',
        f'<path class="cur" d="{step(chart.current)}"/>',
        f'<line class="axis" x1="{left}" y1="{_c(base)}" x2="{left + plot_w}" y2="{_c(base)}"/>',
        f'<line class="axis" x1="{left}" y1="{top}" x2="{left}" y2="{_c(base)}"/>',
        _tick(left - 4, top + 4, pct(peak, 0 if peak >= 0.1 else 1), "end"),
        _tick(left - 4, base, "0", "end"),
        _tick(left, height - 6, fmt(first)),
        _tick(left + plot_w / 2, height - 6, fmt(middle), "middle"),
        _tick(left + plot_w, height - 6, fmt(last), "end"),
    ]
    for mean, css in ((chart.reference_mean, "ref-mean"), (chart.current_mean, "cur-mean")):
        if mean is not None and first <= mean <= last:
            x = left + (mean - first) / (last - first) * plot_w
            parts.append(f'<line class="{css}" x1="{_c(x)}" y1="{top}" x2="{_c(x)}" y2="{_c(base)}"/>')
    parts.append(_legend(left + plot_w - 150, 11))
    parts.append("</svg>")
    return "".join(parts)


def categories_svg(chart: CategoryShares, label: str, width: int = 560) -> str:
    """One pair of bars per category: reference above, current below, with their shares."""
    left, right, top, bar, gap = 150, 60, 20, 9, 7
    rows = len(chart.categories)
    height = top + rows * (2 * bar + gap) + 6
    plot_w = width - left - right
    peak = max(max(chart.reference, default=0.0), max(chart.current, default=0.0)) or 1.0
    parts = [_open(width, height, label, "categories"), _legend(left, 12)]
    for i, name in enumerate(chart.categories):
        y = top + i * (2 * bar + gap)
        shown = name if len(name) <= 22 else name[:21] + "…"
        parts.append(f'<text x="{left - 6}" y="{_c(y + bar + 3)}" text-anchor="end">'
                     f'<title>{escape(name)}</title>{escape(shown)}</text>')
        for j, (share, css) in enumerate(((chart.reference[i], "ref"), (chart.current[i], "cur"))):
            w = share / peak * plot_w
            yy = y + j * bar
            parts.append(f'<rect class="{css}" x="{left}" y="{_c(yy)}" width="{_c(max(w, 0.5))}" '
                         f'height="{bar - 1}"/><text class="tick" x="{_c(left + w + 4)}" '
                         f'y="{_c(yy + bar - 1)}">{pct(share)}</text>')
    parts.append("</svg>")
    return "".join(parts)


@dataclass(frozen=True)
class Series:
    """One line of a line chart: ``(x, y)`` points, x in any increasing unit (e.g. epoch s)."""

    name: str
    points: tuple[tuple[float, float], ...]
    css: str
    dashed: bool = False


def line_svg(series: Sequence[Series], label: str, *, band: tuple[float, float] | None = None,
             reference: float | None = None, x_labels: tuple[str, str] = ("", ""),
             width: int = 640, height: int = 200, y_range: tuple[float, float] | None = None) -> str:
    """Lines over time with an optional horizontal band (the reference's sampling band)
    and reference line; points are dots so a single window still shows."""
    left, right, top, bottom = 48, 10, 22, 22
    plot_w, plot_h = width - left - right, height - top - bottom
    xs = [x for s in series for x, _ in s.points]
    ys = [y for s in series for _, y in s.points]
    ys += [v for v in (band or ()) if v is not None]
    if reference is not None:
        ys.append(reference)
    if y_range is not None:
        y_lo, y_hi = y_range
    elif ys:
        y_lo, y_hi = min(ys), max(ys)
        pad = (y_hi - y_lo) * 0.08 or max(abs(y_hi) * 0.05, 0.01)
        y_lo, y_hi = y_lo - pad, y_hi + pad
    else:
        y_lo, y_hi = 0.0, 1.0
    x_lo, x_hi = (min(xs), max(xs)) if xs else (0.0, 1.0)
    x_span = (x_hi - x_lo) or 1.0

    def px(x: float) -> float:
        return left + (x - x_lo) / x_span * plot_w if x_hi > x_lo else left + plot_w / 2

    def py(y: float) -> float:
        return top + (y_hi - y) / (y_hi - y_lo) * plot_h

    parts = [_open(width, height, label, "lines")]
    if band is not None:
        lo, hi = sorted(band)
        parts.append(f'<rect class="band" x="{left}" y="{_c(py(hi))}" width="{plot_w}" '
                     f'height="{_c(max(py(lo) - py(hi), 0.5))}"><title>reference band '
                     f'{escape(fmt(lo))} – {escape(fmt(hi))}</title></rect>')
    if reference is not None:
        parts.append(f'<line class="reference" x1="{left}" y1="{_c(py(reference))}" '
                     f'x2="{left + plot_w}" y2="{_c(py(reference))}"/>')
    parts += [
        f'<line class="axis" x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}"/>',
        _tick(left - 4, top + 4, fmt(y_hi, 3), "end"),
        _tick(left - 4, top + plot_h, fmt(y_lo, 3), "end"),
        _tick(left, height - 6, x_labels[0]),
        _tick(left + plot_w, height - 6, x_labels[1], "end"),
    ]
    legend_x = left + 4
    for s in series:
        if not s.points:
            continue
        path = "".join(f"{'M' if i == 0 else 'L'}{_c(px(x))},{_c(py(y))}"
                       for i, (x, y) in enumerate(s.points))
        dash = ' stroke-dasharray="5 3"' if s.dashed else ""
        parts.append(f'<path class="line {s.css}" d="{path}"{dash}/>')
        parts += [f'<circle class="dot {s.css}" cx="{_c(px(x))}" cy="{_c(py(y))}" r="2.5"/>'
                  for x, y in s.points]
        parts.append(f'<line class="line {s.css}" x1="{_c(legend_x)}" y1="12" '
                     f'x2="{_c(legend_x + 14)}" y2="12"{dash}/><text x="{_c(legend_x + 18)}" '
                     f'y="15">{escape(s.name)}</text>')
        legend_x += 24 + 7 * len(s.name)
    parts.append("</svg>")
    return "".join(parts)

"""The stylesheet of the charts and the severity colours, shared by the ``detect`` report
(inlined, so the file stands alone) and the model pages (served as ``/ui/static/charts.css``).

Colours are Tableau 10's blue and orange for reference and current — distinguishable with
the common colour-vision deficiencies — and a sequential yellow-to-red for severity.
"""

CHART_CSS = """
svg.chart{font:11px system-ui,sans-serif;fill:#333;overflow:visible}
svg.chart .ref{fill:#4c78a8;fill-opacity:.45;stroke:#4c78a8;stroke-width:1}
svg.chart .cur{fill:#f58518;fill-opacity:.35;stroke:#d5650a;stroke-width:1.5}
svg.chart .axis{stroke:#888;stroke-width:1}
svg.chart .tick{fill:#555;font-size:10px}
svg.chart .ref-mean{stroke:#4c78a8;stroke-dasharray:3 2}
svg.chart .cur-mean{stroke:#d5650a;stroke-dasharray:3 2}
svg.chart .band{fill:#4c78a8;fill-opacity:.12}
svg.chart .reference{stroke:#4c78a8;stroke-dasharray:4 3}
svg.chart .line{fill:none;stroke-width:2}
svg.chart .realized{stroke:#4c78a8;fill:#4c78a8}
svg.chart .estimated{stroke:#d5650a;fill:#d5650a}
svg.chart path.line.realized,svg.chart path.line.estimated{fill:none}
.s-high{background:#d7301f;color:#fff}
.s-medium{background:#fc8d59;color:#111}
.s-low{background:#fdcc8a;color:#111}
.s-none{background:#e6f4ea;color:#1b5e20}
.s-untested{background:#e0e0e0;color:#333}
.badge{display:inline-block;padding:1px 8px;border-radius:9px;font-size:12px;font-weight:600}
"""

REPORT_CSS = CHART_CSS + """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#222;margin:0;background:#fafafa}
main{max-width:980px;margin:0 auto;padding:20px}
h1{font-size:22px;margin:0 0 4px}
h2{font-size:17px;margin:0}
.meta{color:#666;font-size:12px}
.summary{background:#fff;border:1px solid #ddd;border-radius:6px;padding:14px 18px;margin:14px 0}
.summary.yes{border-left:6px solid #d7301f}
.summary.no{border-left:6px solid #2e7d32}
.verdict{font-size:18px;font-weight:600}
table{border-collapse:collapse;font-size:13px}
td,th{padding:3px 10px 3px 0;text-align:left;vertical-align:top}
th{color:#555;font-weight:600}
td.num{font-variant-numeric:tabular-nums}
nav.toc{columns:3;font-size:13px;margin:8px 0 16px}
nav.toc a{text-decoration:none}
section.column{background:#fff;border:1px solid #ddd;border-radius:6px;padding:12px 16px;margin:12px 0}
section.column.drifted{border-left:6px solid #d7301f}
section.column header{display:flex;gap:10px;align-items:baseline;flex-wrap:wrap}
.why{margin:6px 0;color:#333}
.columns{display:flex;gap:18px;flex-wrap:wrap;align-items:flex-start}
.note{color:#666;font-size:12px}
@media print{body{background:#fff}section.column{page-break-inside:avoid}}
"""

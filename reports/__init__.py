"""Reports people read: charts and HTML drawn on the server, pure functions of results.

No I/O, no clock, no network: a caller passes what to show (and the time to print) and
gets a string back. :mod:`reports.detect_html` renders ``driftline detect --format html``;
the model pages (:mod:`api.ui`) draw their charts with :mod:`reports.svg` too.
"""

from reports.charts import CategoryShares, Chart, Histogram, column_chart, column_charts
from reports.detect_html import ReportContext, render_detect_report

__all__ = ["CategoryShares", "Chart", "Histogram", "ReportContext", "column_chart",
           "column_charts", "render_detect_report"]

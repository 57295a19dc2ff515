"""`driftline detect --format html` on the 20,000-row × 13-column held-out case, opened in
headless Chromium from a file: a chart per column, the drifted ones marked, nothing fetched."""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path

import numpy as np
import pyarrow.csv as pcsv

from tests.integration.browser.support import screenshot
from tests.integration.conftest import DRIFTLINE

REPO = Path(__file__).resolve().parents[3]


def _case(directory: Path) -> tuple[Path, Path]:
    # the benchmark's case generator, at 20,000 rows
    spec = importlib.util.spec_from_file_location("make_data", REPO / "bench/detect/make_data.py")
    assert spec is not None and spec.loader is not None
    make_data = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_data)
    make_data.ROWS = 20_000
    reference, current = directory / "reference.csv", directory / "current.csv"
    pcsv.write_csv(make_data.table(np.random.default_rng(1), drifted=False), reference)
    pcsv.write_csv(make_data.table(np.random.default_rng(2), drifted=True), current)
    return reference, current


def test_the_html_report_renders_a_chart_per_column_and_marks_drift(tmp_path: Path,
                                                                    new_page) -> None:
    reference, current = _case(tmp_path)
    out = tmp_path / "report.html"
    subprocess.run([DRIFTLINE, "detect", "--reference", str(reference), "--current",
                    str(current), "--format", "html", "--out", str(out)], check=True)
    page, console = new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(out.as_uri())
    sections = page.locator("section.column")
    assert sections.count() == 13
    for i in range(13):
        assert sections.nth(i).locator("svg.chart").count() == 1
        box = sections.nth(i).locator("svg.chart").bounding_box()
        assert box is not None and box["width"] > 100 and box["height"] > 50  # drawn, not empty
    drifted = page.locator("section.column.drifted")
    names = [drifted.nth(i).locator("h2").inner_text() for i in range(drifted.count())]
    # the case's four real shifts; the 0.05σ nudge is significant but not drift
    assert sorted(names) == ["c00_category", "n01_shifted", "n02_scaled", "n09_mixture"]
    assert all("DRIFTED" in drifted.nth(i).locator(".badge").inner_text()
               for i in range(drifted.count()))
    first = sections.first.get_attribute("data-status")
    assert first == "drifted"  # drifted columns lead
    assert page.locator("#summary").inner_text().count("4 of 13") == 1
    assert requests == [out.as_uri()]  # the file fetched nothing else
    assert console.errors == []
    screenshot(page, "detect-report.png")

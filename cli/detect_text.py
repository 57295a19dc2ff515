"""``driftline detect --format text``: the report as a fixed-width table, one column per
test the registry ran (a renderer of :class:`drift.DatasetReport`, like the JSON)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from drift import DatasetReport, TestResult


def format_text(report: DatasetReport) -> str:
    """A fixed-width table, one feature a row and one column per test the registry ran,
    then the verdict (and any new or untested columns)."""
    from drift.stattests import TESTS

    ran = {name for f in report.features for name in f.tests}
    tests = [name for name in TESTS if name in ran]
    header = ("feature", "kind", "drift", "severity", "p_adj", *tests,
              "missing ref", "missing cur")
    rows = [header]
    for f in report.features:
        drift = {"absent": "yes (absent)", "insufficient_data": "n/a (too few rows)"}.get(
            f.status, "yes" if f.drifted else "no")
        rows.append((
            f.name, f.kind, drift, f.severity if f.drifted else "-",
            "-" if f.p_value_adjusted is None else f"{f.p_value_adjusted:.3g}",
            *(_cell(f.tests[name]) if name in f.tests else "-" for name in tests),
            f"{f.missing_share_reference:.1%}",
            "-" if f.status == "absent" else f"{f.missing_share_current:.1%}",
        ))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
             for row in rows]
    counted = [f for f in report.features if f.status != "insufficient_data"]
    drifted = sum(f.drifted for f in counted)
    lines.append("")
    if report.new_features:
        lines.append(f"new columns (not in the reference, not tested): "
                     f"{', '.join(report.new_features)}")
    untested = [f.name for f in report.features if f.status == "insufficient_data"]
    if untested:
        lines.append(f"too few rows to test: {', '.join(untested)}")
    lines.append(f"dataset drift: {'YES' if report.dataset_drift else 'no'} — {drifted} of "
                 f"{len(counted)} features drifted ({report.drifted_share:.0%}), "
                 f"alpha {report.alpha:g} (Benjamini–Hochberg)")
    return "\n".join(lines)


def _cell(result: TestResult) -> str:
    """A test's statistic, its p-value when it has one, and ``*`` when it found drift."""
    text = f"{result.statistic:.4g}"
    if result.p_value is not None:
        text += f" p={result.p_value:.2g}"
    return text + ("*" if result.drifted else "")

"""Where ``driftline detect`` puts its report: the HTML renderer's call, stdout or a file.

Kept apart from :mod:`cli.detect` (the statistics' command) so the report's format and the
tests' settings change independently.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from cli.errors import BadInput

if TYPE_CHECKING:
    from drift import DatasetReport


def html_report(report: DatasetReport, inputs: dict[str, Any], reference: Path,
                current: Path) -> str:
    """The self-contained HTML report of a run; ``inputs`` as :func:`cli.detect.run_detect`
    filled it (the profiles and values compared, the policy)."""
    from reports import ReportContext, column_charts, render_detect_report

    charts = column_charts(inputs["profiles"], inputs["values"])
    moment = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return render_detect_report(report, charts, ReportContext(
        reference=reference.name, current=current.name, generated_at=moment,
        policy=inputs.get("policy")))


def write_report(text: str, out: Path | None) -> None:
    """Print ``text``, or write it to ``out`` (a directory or unwritable path: exit 2)."""
    if out is None:
        click.echo(text)
        return
    try:
        out.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    except OSError as error:
        raise BadInput(f"{out}: cannot write the report: {error.strerror or error}") from None
    click.echo(f"driftline: report written to {out}", err=True)

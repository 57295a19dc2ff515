"""`driftline detect --format html [--out FILE]`: the same verdicts as JSON, in one file."""

from __future__ import annotations

import json
import re
from pathlib import Path

from click.testing import CliRunner

from cli.main import cli
from tests.unit.cli.test_detect import files  # noqa: F401 - the shared fixture


def _run(*args: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def test_html_to_stdout_and_to_a_file_agree_with_json(files, tmp_path: Path) -> None:  # noqa: F811
    reference, current = files
    common = ("detect", "--reference", reference, "--current", current)
    code, out, _ = _run(*common, "--format", "json")
    assert code == 0
    verdicts = {f["name"]: f["drifted"] for f in json.loads(out)["features"]}
    code, printed, _ = _run(*common, "--format", "html")
    assert code == 0 and printed.startswith("<!DOCTYPE html>")
    target = tmp_path / "report.html"
    code, out, err = _run(*common, "--format", "html", "--out", target)
    assert code == 0 and out == "" and str(target) in err
    html = target.read_text(encoding="utf-8")
    sections = dict(re.findall(r'<section class="column[^"]*" id="col-([^"]+)" '
                               r'data-status="([^"]+)"', html))
    assert {name: status == "drifted" for name, status in sections.items()} == verdicts
    assert html.count("<svg") == len(verdicts)
    # the time stamp is the only difference between two renderings
    assert re.sub(r"generated [^<]+", "", printed.rstrip("\n")) == re.sub(
        r"generated [^<]+", "", html.rstrip("\n"))


def test_fail_on_drift_holds_with_html(files, tmp_path: Path) -> None:  # noqa: F811
    reference, current = files
    code, _, _ = _run("detect", "--reference", reference, "--current", current, "--format",
                      "html", "--out", tmp_path / "r.html", "--fail-on-drift")
    assert code in (0, 3)
    assert (tmp_path / "r.html").exists()


def test_an_unwritable_out_is_exit_2_with_one_line(files, tmp_path: Path) -> None:  # noqa: F811
    reference, current = files
    code, _, err = _run("detect", "--reference", reference, "--current", current, "--format",
                        "html", "--out", tmp_path / "missing" / "r.html")
    assert code == 2
    assert err.startswith("driftline: error:") and "cannot write the report" in err
    assert len(err.strip().splitlines()) == 1

"""`driftline detect` and `driftline profile`: output shape, exit codes, bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from cli.main import cli

SEVERITIES = {"none", "low", "medium", "high"}
NUMERIC_TESTS = {"ks", "psi", "wasserstein", "missing_share"}
CATEGORICAL_TESTS = {"chi2", "psi", "jensen_shannon", "missing_share"}


def _tables(n: int, seed: int = 1) -> tuple[pa.Table, pa.Table]:
    rng = np.random.default_rng(seed)
    ages = rng.normal(40, 10, size=n)
    ages[rng.random(n) < 0.05] = np.nan
    reference = pa.table({
        "age": ages,
        "income": rng.lognormal(10, 0.5, size=n),
        "visits": rng.poisson(3, size=n),
        "country": rng.choice(["de", "fr", "it", "es"], p=[0.4, 0.3, 0.2, 0.1], size=n),
    })
    current = pa.table({
        "age": rng.normal(45, 10, size=n),  # +0.5σ
        "income": rng.lognormal(10, 0.5, size=n),
        "visits": rng.poisson(3, size=n),
        "country": rng.choice(["de", "fr", "it", "es"], p=[0.25, 0.3, 0.2, 0.25], size=n),
    })
    return reference, current


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    reference, current = _tables(4000)
    pcsv.write_csv(reference, tmp_path / "ref.csv")
    pq.write_table(current, tmp_path / "cur.parquet")
    return tmp_path / "ref.csv", tmp_path / "cur.parquet"


def run(*args: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def detect_json(reference: Path, current: Path, *extra: str | Path) -> dict:
    code, out, err = run("detect", "--reference", reference, "--current", current,
                         "--format", "json", *extra)
    assert code == 0, err
    return json.loads(out)


def assert_report_shape(report: dict) -> None:
    """The exact JSON contract of `detect --format json`."""
    assert list(report) == ["dataset_drift", "drifted_share", "alpha", "features", "new_features"]
    assert isinstance(report["dataset_drift"], bool)
    assert isinstance(report["drifted_share"], float) and 0.0 <= report["drifted_share"] <= 1.0
    assert isinstance(report["alpha"], float)
    assert isinstance(report["features"], list)
    for feature in report["features"]:
        assert list(feature) == ["name", "kind", "status", "drifted", "severity",
                                 "p_value_adjusted", "missing_share", "tests"]
        assert isinstance(feature["name"], str)
        assert feature["kind"] in {"numeric", "categorical"}
        assert feature["status"] in {"tested", "insufficient_data", "absent"}
        assert isinstance(feature["drifted"], bool)
        assert feature["severity"] in SEVERITIES
        assert feature["drifted"] or feature["severity"] == "none"
        assert isinstance(feature["p_value_adjusted"], float) or (
            feature["p_value_adjusted"] is None and feature["status"] == "insufficient_data")
        assert list(feature["missing_share"]) == ["reference", "current"]
        assert all(isinstance(v, float) for v in feature["missing_share"].values())
        allowed = NUMERIC_TESTS if feature["kind"] == "numeric" else CATEGORICAL_TESTS
        assert set(feature["tests"]) <= allowed
        for result in feature["tests"].values():
            assert list(result) == ["statistic", "p_value", "effect", "drifted"]
            assert isinstance(result["statistic"], float)
            assert result["p_value"] is None or isinstance(result["p_value"], float)


def test_json_report_has_the_exact_shape_and_column_order(files) -> None:
    report = detect_json(*files)
    assert_report_shape(report)
    assert [f["name"] for f in report["features"]] == ["age", "income", "visits", "country"]
    kinds = {f["name"]: f["kind"] for f in report["features"]}
    assert kinds == {"age": "numeric", "income": "numeric", "visits": "numeric",
                     "country": "categorical"}
    by_name = {f["name"]: f for f in report["features"]}
    assert by_name["age"]["drifted"] and by_name["country"]["drifted"]
    assert not by_name["income"]["drifted"]
    assert by_name["age"]["missing_share"]["reference"] == pytest.approx(0.05, abs=0.01)
    assert by_name["country"]["tests"]["psi"]["p_value"] is None


def test_text_report_is_an_aligned_table(files) -> None:
    code, out, _ = run("detect", "--reference", files[0], "--current", files[1])
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["feature", "kind", "drift", "severity"]
    assert lines[0].index("kind") == lines[1].index("numeric") == lines[4].index("categorical")
    assert lines[-1].startswith("dataset drift: YES — 2 of 4 features drifted (50%)")


def test_fail_on_drift_exits_3_only_when_the_dataset_drifted(files) -> None:
    code, out, _ = run("detect", "--reference", files[0], "--current", files[1],
                       "--fail-on-drift", "--format", "json")
    assert json.loads(out)["dataset_drift"] is True and code == 3
    code, _, _ = run("detect", "--reference", files[0], "--current", files[0], "--fail-on-drift")
    assert code == 0


def test_profile_round_trip_gives_the_same_decisions(files, tmp_path: Path) -> None:
    code, _, err = run("profile", files[0], "--out", tmp_path / "ref.json")
    assert code == 0 and "4 features" in err
    from_csv = detect_json(*files)
    from_profile = detect_json(tmp_path / "ref.json", files[1])
    assert from_profile == from_csv  # small enough to keep exact values: identical numbers


def test_profile_round_trip_with_a_sketch_keeps_the_decisions(tmp_path: Path) -> None:
    reference, current = _tables(30_000, seed=2)  # above the exact-value cap
    pq.write_table(reference, tmp_path / "ref.parquet")
    pcsv.write_csv(current, tmp_path / "cur.csv")
    assert run("profile", tmp_path / "ref.parquet", "--out", tmp_path / "p.json")[0] == 0
    document = json.loads((tmp_path / "p.json").read_text())
    assert document["features"][0]["values"] is None
    exact = detect_json(tmp_path / "ref.parquet", tmp_path / "cur.csv")
    sketched = detect_json(tmp_path / "p.json", tmp_path / "cur.csv")
    decisions = [(f["name"], f["drifted"], f["severity"]) for f in exact["features"]]
    assert decisions == [(f["name"], f["drifted"], f["severity"]) for f in sketched["features"]]
    for a, b in zip(exact["features"], sketched["features"], strict=True):
        if a["kind"] == "numeric":
            assert abs(a["tests"]["ks"]["statistic"] - b["tests"]["ks"]["statistic"]) <= 0.0011


def test_config_overrides_kind_tests_thresholds_and_ignores(files, tmp_path: Path) -> None:
    config = tmp_path / "drift.toml"
    config.write_text(
        'alpha = 0.01\nmin_psi = 0.5\n'
        '[columns.visits]\nkind = "categorical"\n'
        '[columns.age]\ntests = ["ks", "psi"]\nbins = 20\nmin_psi = 5.0\n'
        '[columns.income]\nignore = true\n'
    )
    report = detect_json(*files, "--config", config)
    by_name = {f["name"]: f for f in report["features"]}
    assert report["alpha"] == 0.01 and "income" not in by_name
    assert by_name["visits"]["kind"] == "categorical"
    assert set(by_name["age"]["tests"]) == {"ks", "psi"} and not by_name["age"]["drifted"]
    assert "missing_share" in by_name["visits"]["tests"]


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


BAD_CONFIGS = [
    ("alpha = [", "not valid TOML"),
    ("colour = 1", "unknown key 'colour' in the top level"),
    ("alpha = 2.0", "alpha must be between 0 and 1"),
    ("[columns.age]\nkind = \"text\"", "kind must be \"numeric\" or \"categorical\""),
    ("[columns.age]\ntests = [\"chi2\", \"psi\"]", "[columns.age]: test(s) chi2 do not apply"),
    ("[columns.age]\ntests = [\"ks\"]", "psi cannot be left out"),
    ("[columns.age]\nbins = 1", "bins in [columns.age] must be an integer from 2 to 1000"),
    ("[columns.nope]\nkind = \"numeric\"", "column 'nope' is not in both"),
    ("[columns.country]\nkind = \"numeric\"", "column 'country' must be numeric"),
    ("min_psi = -1", "min_psi must be a number >= 0"),
]


@pytest.mark.parametrize(("text", "message"), BAD_CONFIGS)
def test_bad_config_exits_2_with_one_line(files, tmp_path: Path, text: str, message: str) -> None:
    config = _write(tmp_path / "drift.toml", text)
    code, out, err = run("detect", "--reference", files[0], "--current", files[1],
                         "--config", config)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("driftline: error: ")
    assert message in err


def test_bad_input_files_exit_2_with_one_line(files, tmp_path: Path) -> None:
    reference, current = files
    header_only = _write(tmp_path / "empty.csv", "age,country\n")
    other = _write(tmp_path / "other.csv", "x,y\n1,2\n")
    texty = _write(tmp_path / "texty.csv", "age,country\nold,de\nyoung,fr\n")
    sheet = _write(tmp_path / "data.xlsx", "PK\x03\x04 not really")
    broken = _write(tmp_path / "broken.parquet", "PAR1 truncated")
    bad_profile = _write(tmp_path / "bad.json", '{"format": "driftline.profile", "version": 9}')
    cases = [
        ((tmp_path / "nope.csv", current), "nope.csv: no such file"),
        ((reference, tmp_path / "gone.parquet"), "gone.parquet: no such file"),
        ((sheet, current), "data.xlsx: unsupported format"),
        ((broken, current), "broken.parquet: cannot read Parquet"),
        ((header_only, current), "empty.csv: the table has no rows"),
        ((reference, other), "have no column in common"),
        ((reference, texty), "column 'age' is numeric in"),
        ((bad_profile, current), "bad.json: not a valid profile: unsupported profile version 9"),
        ((reference, bad_profile), "bad.json: expected a CSV or Parquet data file"),
    ]
    for (ref, cur), message in cases:
        code, out, err = run("detect", "--reference", ref, "--current", cur)
        assert code == 2, (message, err)
        assert out == "" and err.count("\n") == 1 and message in err, (message, err)


def test_bins_cannot_change_a_saved_profile(files, tmp_path: Path) -> None:
    assert run("profile", files[0], "--out", tmp_path / "ref.json")[0] == 0
    config = _write(tmp_path / "drift.toml", "bins = 20\n")
    code, _, err = run("detect", "--reference", tmp_path / "ref.json", "--current", files[1],
                       "--config", config)
    assert code == 2 and "bins 20 for column 'age' cannot change" in err


def test_profile_bad_input_exits_2(tmp_path: Path) -> None:
    code, _, err = run("profile", tmp_path / "missing.csv", "--out", tmp_path / "p.json")
    assert code == 2 and "missing.csv: no such file" in err


def test_widened_csv_column_is_read_whole(tmp_path: Path) -> None:
    # Integers for pyarrow's whole first block, then a decimal: the column must stay numeric.
    rows = "\n".join(str(i % 7) for i in range(200_000))
    path = _write(tmp_path / "wide.csv", f"v\n{rows}\n2.5\n")
    report = detect_json(path, path)
    assert report["features"][0]["kind"] == "numeric"


def test_real_process_prints_no_traceback(tmp_path: Path, files) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cli.main", "detect", "--reference", str(tmp_path / "nope.csv"),
         "--current", str(files[1])],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"driftline: error: {tmp_path / 'nope.csv'}: no such file"
    ]


def test_detect_does_not_import_heavy_frameworks(files) -> None:
    code = (
        "import sys\nfrom cli.main import main\nsys.argv = ['driftline', 'detect', '--reference',"
        f" {str(files[0])!r}, '--current', {str(files[1])!r}, '--format', 'json']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'faust', 'sqlalchemy', 'pandas', 'httpx', 'pydantic', 'aiokafka'}), file=sys.stderr)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stderr.strip().splitlines()[-1] == "[]"


# -- data-quality signals (issue 13 item 5) -------------------------------------------------

def _quality_files(tmp_path: Path, n: int = 5000) -> tuple[Path, Path]:
    rng = np.random.default_rng(11)
    income = rng.lognormal(10, 0.5, size=n)
    income[rng.random(n) < 0.29] = np.nan  # 29 % missing, only in the current file
    reference = pa.table({"income": rng.lognormal(10, 0.5, size=n),
                          "age": rng.normal(40, 10, size=n),
                          "segment": rng.choice(["a", "b"], size=n)})
    current = pa.table({"income": income, "age": rng.normal(40, 10, size=n),
                        "channel": rng.choice(["web", "app"], size=n)})
    pcsv.write_csv(reference, tmp_path / "ref.csv")
    pcsv.write_csv(current, tmp_path / "cur.csv")
    return tmp_path / "ref.csv", tmp_path / "cur.csv"


def test_missing_values_appearing_make_a_column_drifted(tmp_path: Path) -> None:
    reference, current = _quality_files(tmp_path)
    report = detect_json(reference, current)
    assert_report_shape(report)
    income = {f["name"]: f for f in report["features"]}["income"]
    # the values present are distributed as before: only the missing share moved
    assert not income["tests"]["ks"]["drifted"] and income["tests"]["missing_share"]["drifted"]
    assert income["drifted"] and income["severity"] == "high"
    assert income["tests"]["missing_share"]["statistic"] == pytest.approx(0.29, abs=0.02)


def test_absent_and_new_columns_are_reported_and_fail_the_gate(tmp_path: Path) -> None:
    reference, current = _quality_files(tmp_path)
    code, out, err = run("detect", "--reference", reference, "--current", current,
                         "--format", "json", "--fail-on-drift")
    report = json.loads(out)
    segment = {f["name"]: f for f in report["features"]}["segment"]
    assert segment["status"] == "absent" and segment["drifted"] and segment["severity"] == "high"
    assert report["new_features"] == ["channel"]
    assert code == 3 and err == ""
    code, out, _ = run("detect", "--reference", reference, "--current", current)
    assert "new columns (not in the reference, not tested): channel" in out
    assert any(line.split()[:5] == ["segment", "categorical", "yes", "(absent)", "high"]
               for line in out.splitlines())


def test_too_few_rows_is_insufficient_data_not_none(tmp_path: Path, files) -> None:
    tiny = _write(tmp_path / "tiny.csv", "age,income,visits,country\n40,1,2,de\n41,2,3,fr\n39,1,1,de\n")
    report = detect_json(files[0], tiny)
    assert_report_shape(report)
    assert {f["status"] for f in report["features"]} == {"insufficient_data"}
    assert all(not f["drifted"] and f["severity"] == "none" and f["tests"] == {}
               for f in report["features"])
    assert report["dataset_drift"] is False
    code, out, _ = run("detect", "--reference", files[0], "--current", tiny)
    assert code == 0 and "too few rows to test: age, income, visits, country" in out
    config = _write(tmp_path / "small.toml", "min_sample = 3\n")
    tested = detect_json(files[0], tiny, "--config", config)
    assert {f["status"] for f in tested["features"]} == {"tested"}


def test_text_report_has_a_column_per_test_the_registry_ran(files) -> None:
    from drift.stattests import TESTS

    code, out, _ = run("detect", "--reference", files[0], "--current", files[1])
    header = out.splitlines()[0].split()
    assert header[5:-4] == [name for name in TESTS]  # every registered test ran somewhere
    assert header[-4:] == ["missing", "ref", "missing", "cur"]


def test_config_sets_any_registered_threshold(files, tmp_path: Path) -> None:
    config = _write(tmp_path / "q.toml", "min_missing_delta = 0.5\n[columns.age]\nhigh_missing_delta = 0.6\n")
    assert detect_json(*files, "--config", config)["features"]
    bad = _write(tmp_path / "bad.toml", "min_sample = 0\n")
    code, _, err = run("detect", "--reference", files[0], "--current", files[1], "--config", bad)
    assert code == 2 and "min_sample in the top level must be an integer >= 1" in err

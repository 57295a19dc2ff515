"""`driftline estimate`: the exact contract, estimates that track the realized metrics,
alerts by the drop rule, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pytest
from click.testing import CliRunner

from cli.main import cli

METRIC_KEYS = ["estimate", "lower", "upper", "reference", "alert"]


def run(*args: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def binary(n: int, scale: float, seed: int, labelled: bool = True) -> tuple[pa.Table, float]:
    """A calibrated classifier: P(approved) = sigmoid(logit); a smaller ``scale`` of the
    inputs puts more rows near the boundary, where the model is less often right."""
    rng = np.random.default_rng(seed)
    income, debt = rng.normal(0, scale, n), rng.normal(0, scale, n)
    p = 1 / (1 + np.exp(-(2.0 * income - 1.5 * debt)))
    y = np.where(rng.random(n) < p, "approved", "declined")
    prediction = np.where(p > 0.5, "approved", "declined")
    columns = {"income": income, "debt": debt, "prediction": prediction, "p_approved": p,
               "p_declined": 1 - p}
    if labelled:
        columns["outcome"] = y
    return pa.table(columns), float(np.mean(prediction == y))


def write(table: pa.Table, path: Path) -> Path:
    pcsv.write_csv(table, path)
    return path


@pytest.fixture
def files(tmp_path: Path) -> dict[str, object]:
    reference, _ = binary(20_000, 1.0, 1)
    same, same_accuracy = binary(5000, 1.0, 2)
    worse, worse_accuracy = binary(5000, 0.45, 3)
    return {"ref": write(reference, tmp_path / "ref.csv"),
            "same": write(same.drop(["outcome"]), tmp_path / "same.csv"),
            "worse": write(worse.drop(["outcome"]), tmp_path / "worse.csv"),
            "same_accuracy": same_accuracy, "worse_accuracy": worse_accuracy}


def estimate_json(reference: Path, current: Path, *extra: str) -> tuple[int, dict]:
    code, out, err = run("estimate", "--reference", reference, "--current", current,
                         "--target", "outcome", "--prediction", "prediction", "--format", "json",
                         *extra)
    assert code in (0, 3), err
    return code, json.loads(out)


def test_binary_json_has_the_exact_shape_and_tracks_realized_accuracy(files) -> None:
    # one column: the probability of the larger label, "declined", unless told otherwise
    code, doc = estimate_json(files["ref"], files["same"], "--proba", "p_declined")
    assert list(doc) == ["problem", "rows", "metrics", "calibration"]
    assert doc["problem"] == "binary" and doc["rows"] == 5000 and code == 0
    assert list(doc["metrics"]) == ["accuracy", "precision", "recall", "f1", "roc_auc"]
    for metric in doc["metrics"].values():
        assert list(metric) == METRIC_KEYS
        assert metric["lower"] <= metric["estimate"] <= metric["upper"]
        assert metric["alert"] is False
    accuracy = doc["metrics"]["accuracy"]
    assert accuracy["estimate"] == pytest.approx(files["same_accuracy"], abs=0.015)
    assert accuracy["lower"] <= files["same_accuracy"] <= accuracy["upper"]
    assert doc["calibration"]["method"] == "isotonic"
    assert doc["calibration"]["reference_rows"] == 20_000
    assert doc["calibration"]["positive"] == "declined"  # the larger label by default


def test_a_fall_without_labels_alerts_and_fails_the_gate(files) -> None:
    code, doc = estimate_json(files["ref"], files["worse"], "--proba", "p_approved",
                              "--positive-label", "approved", "--metrics", "accuracy,f1",
                              "--fail-on-alert")
    accuracy = doc["metrics"]["accuracy"]
    assert files["worse_accuracy"] < accuracy["reference"] - 0.05  # it really fell
    assert accuracy["estimate"] == pytest.approx(files["worse_accuracy"], abs=0.015)
    assert accuracy["alert"] is True and code == 3
    assert list(doc["metrics"]) == ["accuracy", "f1"]
    code, out, _ = run("estimate", "--reference", files["ref"], "--current", files["worse"],
                       "--target", "outcome", "--prediction", "prediction",
                       "--proba", "p_approved")
    assert code == 0 and out.splitlines()[0].split()[:2] == ["metric", "estimate"]
    assert "estimated drop: accuracy" in out


def test_multiclass_with_class_columns(tmp_path: Path) -> None:
    def table(n: int, scale: float, seed: int) -> tuple[pa.Table, float]:
        rng = np.random.default_rng(seed)
        logits = rng.normal(0, scale, size=(n, 3))
        q = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        y = np.minimum((rng.random((n, 1)) > np.cumsum(q, axis=1)).sum(axis=1), 2)
        names = np.array(["low", "mid", "high"])
        predicted = names[q.argmax(axis=1)]
        return pa.table({"risk": names[y], "pred": predicted, "p_low": q[:, 0],
                         "p_mid": q[:, 1], "p_high": q[:, 2]}), float(np.mean(predicted == names[y]))

    reference, _ = table(20_000, 2.0, 1)
    current, accuracy = table(5000, 0.8, 2)
    write(reference, tmp_path / "r.csv")
    write(current.drop(["risk"]), tmp_path / "c.csv")
    code, out, err = run("estimate", "--reference", tmp_path / "r.csv", "--current",
                         tmp_path / "c.csv", "--target", "risk", "--prediction", "pred",
                         "--proba", "low=p_low", "--proba", "mid=p_mid", "--proba", "high=p_high",
                         "--format", "json", "--fail-on-alert")
    doc = json.loads(out)
    assert doc["problem"] == "multiclass" and doc["calibration"]["classes"] == ["low", "mid", "high"]
    assert doc["metrics"]["accuracy"]["estimate"] == pytest.approx(accuracy, abs=0.02)
    assert doc["metrics"]["accuracy"]["alert"] and code == 3


def test_regression_by_direct_loss_estimation(tmp_path: Path) -> None:
    def table(n: int, shift: float, seed: int) -> tuple[pa.Table, float]:
        rng = np.random.default_rng(seed)
        x = rng.normal(shift, 1, n)
        y = 2 * x + rng.normal(0, 1, n) * (0.3 + np.abs(x))
        return pa.table({"x": x, "price": y, "predicted": 2 * x}), float(np.mean(np.abs(y - 2 * x)))

    write(table(6000, 0.0, 1)[0], tmp_path / "r.csv")
    current, mae = table(3000, 1.2, 2)
    write(current.drop(["price"]), tmp_path / "c.csv")
    code, out, err = run("estimate", "--reference", tmp_path / "r.csv", "--current",
                         tmp_path / "c.csv", "--target", "price", "--prediction", "predicted",
                         "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["problem"] == "regression" and list(doc["metrics"]) == ["mae", "rmse"]
    assert doc["metrics"]["mae"]["estimate"] == pytest.approx(mae, rel=0.1)
    assert doc["metrics"]["mae"]["alert"] is True  # errors grew with |x|
    assert doc["calibration"]["method"] == "dle" and doc["calibration"]["features"] == ["x"]


def test_bad_input_exits_2_with_one_line(files, tmp_path: Path) -> None:
    reference, _ = binary(500, 1.0, 4)
    unlabelled = write(reference.drop(["outcome"]), tmp_path / "nolabel.csv")
    wide = reference.set_column(3, "p_approved", pa.array(np.full(500, 1.5)))
    too_big = write(wide, tmp_path / "big.csv")
    base = ("--target", "outcome", "--prediction", "prediction")
    cases = [
        ((unlabelled, files["same"], *base, "--proba", "p_approved"), "no column 'outcome'"),
        ((files["ref"], files["same"], *base, "--proba", "nope"), "no column 'nope'"),
        ((too_big, files["same"], *base, "--proba", "p_approved"), "outside [0, 1]"),
        ((files["ref"], files["same"], *base, "--proba", "p_approved", "--metrics", "mae"),
         "--metrics: mae not among"),
        ((files["ref"], files["same"], *base, "--proba", "a=p_approved", "--proba", "p"),
         "--proba CLASS=COLUMN for every class"),
        ((files["ref"], tmp_path / "gone.csv", *base, "--proba", "p_approved"), "no such file"),
    ]
    for (ref, cur, *args), message in cases:
        code, out, err = run("estimate", "--reference", ref, "--current", cur, *args)
        assert code == 2, (message, err)
        assert out == "" and err.count("\n") == 1 and message in err, (message, err)

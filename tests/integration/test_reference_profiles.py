"""An explicit reference, set with `driftline reference set`, replaces the collected one."""

from __future__ import annotations

import csv

import orjson
import pytest

from cli.traffic import TrafficSpec, feature_events
from monitors.state import ModelHead
from tests.integration.conftest import consume, produce, run_cli, wait_for_changelog

pytestmark = pytest.mark.integration


def test_reference_from_a_csv_is_used_by_the_stream(worker_factory, base_env, broker, unique,
                                                    tmp_path):
    model = f"{unique}-ref"
    # the reference rows were drawn with income one standard deviation higher
    shifted = TrafficSpec(model_name=model, shift_at=0, shift_sigma=1.0, seed=8)
    path = tmp_path / "reference.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["income", "age", "channel"])
        writer.writeheader()
        for event in feature_events(shifted, 3000):
            writer.writerow(event["features"])

    worker_factory(DRIFT__REFERENCE_SIZE="500", DRIFT__WINDOW_SIZE="500", DRIFT__DETECTORS="[]")
    out = run_cli(base_env, "reference", "set", model, "1", "--from", str(path))
    assert "3 features" in out.stdout and "exact values kept" in out.stdout
    # the worker holds the reference before the traffic starts (separate topics: no order)
    key = f"fh|{model}|1".encode()
    state = wait_for_changelog(
        broker, unique, lambda s: key in s and bool(ModelHead.decode(s[key]).reference_id))
    assert key in state and ModelHead.decode(state[key]).reference_id, "reference not applied"
    spec = TrafficSpec(model_name=model, seed=9)
    produce(broker, f"{unique}-features",
            [(model.encode(), orjson.dumps(e)) for e in feature_events(spec, 1000)])
    results = [orjson.loads(m.value) for m in consume(
        broker, f"{unique}-drift-events", lambda m: len(m) >= 6, timeout=120)]
    windows = sorted({r["window_start_seq"] for r in results})
    assert windows == [0, 500]  # no events were spent on collecting a reference
    income = [r for r in results if r["feature"] == "income"]
    assert all(r["drifted"] and r["reference_size"] == 3000 for r in income)
    assert not any(r["drifted"] for r in results if r["feature"] == "age")


def test_bad_reference_input_is_a_one_line_error(base_env, tmp_path):
    result = run_cli(base_env, "reference", "set", "m", "1", "--from", str(tmp_path / "nope.csv"),
                     check=False)
    assert result.returncode == 2 and "no such file" in result.stderr
    path = tmp_path / "ok.csv"
    path.write_text("x\n1\n2\n")
    result = run_cli(base_env, "reference", "set", "bad name", "1", "--from", str(path),
                     check=False)
    assert result.returncode == 2
    assert "model_name: 'bad name' has characters outside" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_labelled_reference_calibrates_estimation_before_any_label(worker_factory, base_env,
                                                                   broker, unique, tmp_path):
    """`reference set --target`: the version is calibrated from the file, so its first
    window of predictions is estimated although no label ever joined."""
    import numpy as np

    model = f"{unique}-cal"
    rng = np.random.default_rng(4)
    x = rng.normal(size=3000)
    p = 1 / (1 + np.exp(-3 * x))
    path = tmp_path / "labelled.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["x", "outcome", "predicted", "p_yes"])
        for xi, pi in zip(x, p, strict=True):
            writer.writerow([xi, "yes" if rng.random() < pi else "no",
                             "yes" if pi > 0.5 else "no", pi])
    worker_factory(DRIFT__DETECTORS="[]", PERFORMANCE__WINDOW_SIZE="200")
    out = run_cli(base_env, "reference", "set", model, "1", "--from", str(path), "--target",
                  "outcome", "--prediction", "predicted", "--proba", "p_yes")
    assert "1 features" in out.stdout and "calibration of performance estimation" in out.stdout
    wait_for_changelog(broker, unique, lambda s: f"qcal|{model}|1".encode() in s)
    predictions = []
    for i in range(200):
        pi = float(1 / (1 + np.exp(-3 * rng.normal())))
        predictions.append({"event_id": f"00000000-0000-4000-8000-{i:012d}", "schema_version": 1,
                            "model_name": model, "model_version": "1",
                            "timestamp": f"2026-11-20T00:{i // 60:02d}:{i % 60:02d}+00:00",
                            "prediction": "yes" if pi > 0.5 else "no",
                            "probabilities": {"yes": pi, "no": 1 - pi}})
    produce(broker, f"{unique}-predictions",
            [(model.encode(), orjson.dumps(e)) for e in predictions])
    metrics = [orjson.loads(m.value) for m in consume(
        broker, f"{unique}-performance-metrics",
        lambda ms: any(orjson.loads(m.value).get("estimated") for m in ms), timeout=120)]
    accuracy = [m for m in metrics if m["estimated"] and m["metric"] == "accuracy"]
    assert len(accuracy) == 1 and accuracy[0]["sample_size"] == 200
    assert 0.75 < accuracy[0]["value"] < 0.95 and accuracy[0]["lower"] < accuracy[0]["upper"]
    bad = run_cli(base_env, "reference", "set", model, "1", "--from", str(path), "--target",
                  "outcome", check=False)
    assert bad.returncode == 2 and "--target needs --prediction and --proba" in bad.stderr

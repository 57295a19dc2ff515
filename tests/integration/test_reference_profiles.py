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

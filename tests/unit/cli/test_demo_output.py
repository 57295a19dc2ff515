"""What the demo prints: criteria whole, windows that name the deciding statistic and the
alert state, merged retrain triggers on one line, MLflow's own output in the log file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click

from cli.demo_support import Narrator, describe_loop_record, describe_window, output_to
from settings import Settings

THRESHOLDS = Settings().drift  # min_psi 0.1, min_distance 0.1: the worker's gates


def test_promotion_criteria_are_printed_whole() -> None:
    record = {"decision": "promoted", "candidate_version": "2", "champion_version": "1",
              "criteria": {"significance": {
                  "passed": True, "test": "mcnemar_exact", "alpha": 0.05, "p_value": 3.25e-11,
                  "champion_only": 20, "candidate_only": 150,
                  "error_rate_delta_ci": {"low": -0.19, "high": -0.12}}}}
    text = click.unstyle(describe_loop_record("x-promotion-events", record))
    line = text.splitlines()[1]
    assert line.strip() == ("pass significance: passed — p_value 3.25e-11, test mcnemar_exact, "
                            "alpha 0.05, champion_only 20, candidate_only 150, "
                            "error_rate_delta_ci [low -0.19, high -0.12]")


def test_a_training_job_message_is_printed_whole() -> None:
    message = ("exporting labelled predictions of credit-risk-20261201031027 from "
               "2026-11-30T15:11:48.461512+00:00 to 2026-12-01T03:11:48.461512+00:00")
    record = {"status": "running", "progress": 0.05, "message": message}
    assert click.unstyle(describe_loop_record("x-training-jobs", record)).endswith(message)


def _result(feature: str, drifted: bool, psi: float, distance: float, alert: str = "none",
            kind: str = "model_drift") -> dict:
    return {"kind": kind, "feature": feature, "test": "ks", "statistic": 0.2,
            "p_value": 1e-9, "p_value_adjusted": 2e-9, "drifted": drifted, "effect": psi,
            "severity": ("high" if psi >= 0.25 else "medium" if psi >= 0.1 else "low")
            if drifted else "none",
            "window_start_seq": 5000, "window_end_seq": 6000, "alert": alert,
            "tests": {"ks": {"statistic": 0.2, "p_value": 1e-9},
                      "psi": {"statistic": psi, "p_value": None},
                      "wasserstein": {"statistic": distance, "p_value": None}}}


def test_a_window_names_the_statistic_that_decided_and_the_alert_state() -> None:
    line = click.unstyle(describe_window([
        _result("prediction", True, 0.30, 0.5, alert="fired"),
        _result("confidence", True, 0.09, 0.14, alert="ongoing"),
    ], THRESHOLDS))
    assert line == (
        "  model  events  5000-6000  "
        "confidence drifted (low, passed on the distance: Wasserstein 0.14 ≥ 0.1; PSI 0.09 < 0.1)"
        " alert ongoing, prediction drifted (high, passed on PSI 0.3 ≥ 0.1) ALERT")
    calm = click.unstyle(describe_window([
        _result("x1", False, 0.01, 0.02, alert="recovered", kind="data_drift"),
        _result("x2", False, 0.01, 0.02, kind="data_drift")], THRESHOLDS))
    assert calm == "  inputs events  5000-6000  x1 ok RECOVERED, x2 ok"


def _merged(i: int, same_batch: bool, kind: str, feature: str) -> dict:
    request = "317c5624-a48d-54fd-9d4e-61cd9c571384"
    reason = (f"merged into request {request} (model_drift on 'prediction' (severity high)), "
              "triggered in the same batch" if same_batch else
              f"merged into request {request}, accepted {i}s ago (merge window 60s)")
    return {"decision": "merged", "request_id": request, "reason": reason,
            "trigger_kind": kind, "triggers": {"features": [feature], "kinds": [kind]}}


def test_merged_triggers_are_summarised_on_one_line() -> None:
    lines: list[str] = []
    tell = Narrator(lines.append)
    tell.loop_record("p-retrain-requests", {
        "decision": "accepted", "request_id": "317c5624-a48d-54fd-9d4e-61cd9c571384",
        "reason": "model_drift on 'prediction' (severity high) fired; request 1 of 3 today; "
                  "3 concurrent trigger(s) merged"})
    for i, (kind, feature) in enumerate([("model_drift", "confidence"), ("data_drift", "x1"),
                                         ("data_drift", "region")]):
        tell.loop_record("p-retrain-requests", _merged(i, True, kind, feature))
    tell.line("  inputs events  5000-6000  x2 ok")  # a window between: the summary waits
    for i, feature in enumerate(["accuracy", "precision", "recall", "f1", "roc_auc"]):
        tell.loop_record("p-retrain-requests", _merged(5 + i, False, "performance_drop", feature))
    tell.loop_record("p-training-jobs", {"status": "submitted", "progress": 0.0,
                                         "message": "submitted"})
    text = [click.unstyle(line) for line in lines]
    assert len(text) == 4
    assert text[0].startswith("  retrain request  ACCEPTED (request 317c5624): model_drift")
    assert text[2] == (
        "  retrain request  MERGED: 8 triggers into request 317c5624 (3 in the same batch, "
        "5 within its 60s merge window): data_drift on region, x1; model_drift on confidence; "
        "performance_drop on accuracy, f1, precision, recall, roc_auc")
    assert text[3].startswith("  training job     submitted")
    tell.flush()
    assert len(lines) == 4  # nothing held back twice


def test_merged_triggers_still_pending_at_the_end_are_printed() -> None:
    lines: list[str] = []
    tell = Narrator(lines.append)
    tell.loop_record("p-retrain-requests", _merged(3, False, "data_drift", "x1"))
    assert lines == []
    tell.flush()
    assert click.unstyle(lines[0]).startswith(
        "  retrain request  MERGED: 1 trigger into request 317c5624 (1 within its 60s merge")


def test_output_to_keeps_everything_off_the_terminal(tmp_path: Path, capfd) -> None:
    log = tmp_path / "mlflow.log"
    with output_to(log):
        print("python stdout")  # noqa: T201 - what MLflow's "View run" link does
        print("python stderr", file=sys.stderr)  # noqa: T201 - MLflow's log lines and eprint
        subprocess.run([sys.executable, "-c", "import os; os.write(1, b'child stdout\\n'); "
                        "os.write(2, b'child stderr\\n')"], check=True)
    print("after")  # noqa: T201
    seen = capfd.readouterr()
    assert seen.out == "after\n" and seen.err == ""
    kept = log.read_text()
    for text in ("python stdout", "python stderr", "child stdout", "child stderr"):
        assert text in kept

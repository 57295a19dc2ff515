"""promtool on what driftline ships: the Prometheus config and its alert rules are valid for
the Prometheus the compose file runs, lint clean, and raise exactly the alerts that
``driftline_test.yml`` expects from synthetic series."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml

from tests.prometheus.conftest import BUILD_ALLOWANCE

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "docker" / "prometheus" / "prometheus.yml"
RULES = REPO / "docker" / "prometheus" / "rules" / "driftline.yml"
RULE_TESTS = Path(__file__).resolve().parent / "driftline_test.yml"


def promtool(bin_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(bin_dir / "promtool"), *args], cwd=REPO,  # noqa: S603
                          capture_output=True, text=True, timeout=600, check=False)


def alerts() -> list[dict]:
    return [rule for group in yaml.safe_load(RULES.read_text())["groups"]
            for rule in group["rules"] if "alert" in rule]


@BUILD_ALLOWANCE
def test_the_shipped_config_and_the_rules_it_loads_check(prometheus_bin: Path) -> None:
    done = promtool(prometheus_bin, "check", "config", str(CONFIG))
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    # the rule files were found through the config's glob, not skipped
    assert f"SUCCESS: {len(alerts())} rules found" in output, output


@BUILD_ALLOWANCE
def test_the_rules_are_lint_clean(prometheus_bin: Path) -> None:
    done = promtool(prometheus_bin, "check", "rules", "--lint=all", "--lint-fatal", str(RULES))
    assert done.returncode == 0, done.stdout + done.stderr


@BUILD_ALLOWANCE
def test_the_rules_raise_the_alerts_their_tests_expect(prometheus_bin: Path) -> None:
    done = promtool(prometheus_bin, "test", "rules", str(RULE_TESTS))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


@BUILD_ALLOWANCE
def test_a_wrong_expectation_fails(prometheus_bin: Path, tmp_path: Path) -> None:
    """The harness can fail: the worker's down alert expected one minute early."""
    text = RULE_TESTS.read_text().replace("../../docker/prometheus/rules/driftline.yml", str(RULES))
    early = text.replace("      - eval_time: 4m\n        alertname: DriftlineWorkerDown",
                         "      - eval_time: 3m\n        alertname: DriftlineWorkerDown", 1)
    assert early != text
    (tmp_path / "early_test.yml").write_text(early)
    done = promtool(prometheus_bin, "test", "rules", str(tmp_path / "early_test.yml"))
    assert done.returncode == 1
    assert "DriftlineWorkerDown" in done.stdout + done.stderr


def test_every_alert_has_a_summary_a_severity_a_firing_test_and_a_runbook_line() -> None:
    tests = yaml.safe_load(RULE_TESTS.read_text())["tests"]
    firing = {case["alertname"] for test in tests for case in test.get("alert_rule_test", [])
              if case.get("exp_alerts")}
    quiet = {case["alertname"] for test in tests for case in test.get("alert_rule_test", [])
             if not case.get("exp_alerts")}
    readme = (REPO / "README.md").read_text()
    section = readme.split("\n## Alerts\n", 1)[1].split("\n## ", 1)[0]
    runbook = {m.group(1): m.group(2) for m in re.finditer(r"^\| `(\w+)` \|(.+)$", section, re.M)}
    names = [rule["alert"] for rule in alerts()]
    assert len(names) == len(set(names))
    for rule in alerts():
        name = rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], name
        assert rule["labels"]["severity"] in ("warning", "critical"), name
        assert name in firing, f"{name}: no test sees it fire"
        assert name in quiet, f"{name}: no test sees it stay quiet"
        assert name in runbook, f"{name}: no runbook line in the README's Alerts section"
    assert set(runbook) == set(names), set(runbook) ^ set(names)

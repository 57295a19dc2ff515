"""The demo prints each promotion criterion whole, the McNemar p-value first."""

from __future__ import annotations

import click

from cli.demo_support import describe_loop_record


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

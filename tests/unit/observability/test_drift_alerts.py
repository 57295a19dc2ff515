"""``driftline_drift_alerts_active``: read from the monitors' heads in the partitions the
worker owns, so the "drift alert firing for a day" rule follows the monitor's own state."""

from __future__ import annotations

import faust
import pytest
from faust.types import TP
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from monitors.state import ModelHead, chunk_key, head_key, reference_key
from observability import metrics
from observability.metrics import DriftAlerts


@pytest.fixture
def app() -> faust.App:
    return faust.App("unit-drift-alerts", broker="kafka://127.0.0.1:1", store="memory://")


@pytest.fixture
def table(app: faust.App) -> faust.types.TableT:
    return app.Table("feature-state", key_type=bytes, value_type=bytes, default=None, partitions=4)


def own(app: faust.App, monkeypatch: pytest.MonkeyPatch, *partitions: int) -> None:
    changelog = "unit-drift-alerts-feature-state-changelog"
    actives = {TP(changelog, p) for p in partitions} | {TP("features", 3)}
    monkeypatch.setattr(app.assignor, "assigned_actives", lambda: actives)


def head(model: str, version: str, partition: int, **hygiene: bool) -> bytes:
    return ModelHead(model=model, version=version, partition=partition, phase="monitoring",
                     hygiene={f: [[active], active] for f, active in hygiene.items()}).encode()


def scrape(collector: DriftAlerts) -> dict[tuple[str, str, str], float]:
    registry = CollectorRegistry()
    registry.register(collector)
    text = generate_latest(registry).decode()
    return {(s.labels["model"], s.labels["version"], s.labels["kind"]): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_counts_active_features_per_owned_model_version_and_kind(app, table, monkeypatch):
    own(app, monkeypatch, 0, 1)
    table.data[head_key("f", "fraud", "3")] = head("fraud", "3", 1, x1=True, x2=True, region=False)
    table.data[head_key("p", "fraud", "3")] = head("fraud", "3", 1, prediction=True)
    table.data[head_key("f", "churn", "1")] = head("churn", "1", 0, x1=False)
    # not a head: a reference and a chunk of the same model are skipped unread
    table.data[reference_key("f", "fraud", "3")] = b"not a head"
    table.data[chunk_key("f", "fraud", "3", 0, 0)] = b"not a head"
    # a standby replica's (or a revoked partition's) model is the owner's to report
    table.data[head_key("f", "ads", "7")] = head("ads", "7", 2, x1=True)
    assert scrape(DriftAlerts(app)) == {
        ("fraud", "3", "data_drift"): 2, ("fraud", "3", "model_drift"): 1,
        ("churn", "1", "data_drift"): 0}


def test_an_unreadable_head_hides_no_other(app, table, monkeypatch):
    own(app, monkeypatch, 0)
    table.data[head_key("f", "broken", "1")] = b"\x00\x00"
    table.data[head_key("f", "fine", "1")] = head("fine", "1", 0, x1=True)
    assert scrape(DriftAlerts(app)) == {("fine", "1", "data_drift"): 1}


def test_nothing_before_the_worker_has_an_assignment_or_without_the_table(app, table):
    table.data[head_key("f", "fraud", "3")] = head("fraud", "3", 0, x1=True)
    assert scrape(DriftAlerts(app)) == {}  # the assignor has no assignment yet
    bare = faust.App("unit-drift-alerts-bare", broker="kafka://127.0.0.1:1")
    assert scrape(DriftAlerts(bare)) == {}


def test_known_label_values_start_at_zero_so_a_first_failure_is_an_increase():
    value = metrics.REGISTRY.get_sample_value
    for state in ("submitted", "succeeded", "failed", "cancelled"):
        assert value("driftline_training_jobs_total", {"state": state}) is not None
    assert value("driftline_promotion_decisions_total", {"decision": "promoted"}) is not None
    assert value("driftline_retrain_decisions_total", {"decision": "accepted"}) is not None

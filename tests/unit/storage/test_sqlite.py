"""With no DATABASE__URL the worker stores to an embedded SQLite file: migrations apply and
sinks stay idempotent there too."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import func, inspect, select

from schemas.events import DriftEvent
from settings import Settings
from storage.db import make_engine, upgrade
from storage.models import DriftResult
from storage.repository import save_drift_events


def test_default_store_is_a_sqlite_file_under_the_state_dir(tmp_path, monkeypatch):
    monkeypatch.delenv("DATABASE__URL", raising=False)
    settings = Settings(state_dir=tmp_path / "state")
    assert settings.database_url == f"sqlite:///{(tmp_path / 'state' / 'driftline.sqlite3')}"


def test_migrations_and_idempotent_inserts_on_sqlite(tmp_path):
    url = f"sqlite:///{tmp_path / 'driftline.sqlite3'}"
    upgrade(url)
    upgrade(url)  # a second run is a no-op
    engine = make_engine(url)
    tables = set(inspect(engine).get_table_names())
    assert {"drift_events", "performance_metrics", "labelled_predictions", "dead_letters",
            "retrain_requests", "training_jobs", "audit_log", "api_keys"} <= tables
    when = datetime(2026, 11, 26, tzinfo=UTC).isoformat()
    event = DriftEvent(
        event_id=str(uuid.uuid4()), schema_version=1, model_name="m", model_version="1",
        timestamp=when, kind="data_drift", feature="f", test="ks", statistic=0.5, p_value=0.01,
        drifted=True, window_start_seq=0, window_end_seq=10, window_start_offset=0,
        window_end_offset=9, window_start_time=when, window_end_time=when, reference_size=10,
        current_size=10)
    assert save_drift_events(engine, [event]) == 1
    assert save_drift_events(engine, [event]) == 0
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(DriftResult)).scalar_one() == 1
    engine.dispose()


def test_every_test_result_and_estimates_are_stored_on_sqlite(tmp_path):
    from schemas.events import MetricEvent
    from storage.models import PerformanceMetric
    from storage.repository import save_metrics

    url = f"sqlite:///{tmp_path / 'driftline.sqlite3'}"
    upgrade(url)
    engine = make_engine(url)
    when = datetime(2026, 11, 26, tzinfo=UTC).isoformat()
    tests = {"ks": {"statistic": 0.02, "p_value": 0.4, "effect": 0.02, "drifted": False},
             "missing_share": {"statistic": 0.29, "p_value": 1e-30, "effect": 0.29,
                               "drifted": True}}
    event = DriftEvent(
        event_id=str(uuid.uuid4()), schema_version=1, model_name="m", model_version="1",
        timestamp=when, kind="data_drift", feature="income", test="ks", statistic=0.02,
        p_value=0.4, drifted=True, window_start_seq=0, window_end_seq=10, window_start_offset=0,
        window_end_offset=9, window_start_time=when, window_end_time=when, reference_size=10,
        current_size=10, tests=tests)
    metric = MetricEvent(
        event_id=str(uuid.uuid4()), schema_version=1, model_name="m", model_version="1",
        timestamp=when, metric="accuracy", value=0.81, sample_size=500, window_start_seq=0,
        window_end_seq=500, window_start_time=when, window_end_time=when, reference_value=0.88,
        estimated=True, lower=0.79, upper=0.83)
    assert save_drift_events(engine, [event]) == 1 and save_metrics(engine, [metric]) == 1
    with engine.connect() as conn:
        assert conn.execute(select(DriftResult.tests)).scalar_one() == tests
        row = conn.execute(select(PerformanceMetric.estimated, PerformanceMetric.lower,
                                  PerformanceMetric.upper)).one()
    assert tuple(row) == (True, 0.79, 0.83)
    engine.dispose()

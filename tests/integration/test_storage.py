"""Storage against the real PostgreSQL: idempotent sinks and monthly partitions."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select, text

from schemas.events import DriftEvent
from storage.models import DriftResult
from storage.partitions import ensure_partitions, month_start, partition_name
from storage.repository import save_drift_events

pytestmark = pytest.mark.integration


def drift_event(model: str, when: datetime, **overrides) -> DriftEvent:
    fields = dict(
        event_id=str(uuid.uuid4()), schema_version=1, model_name=model, model_version="1",
        timestamp=when.isoformat(), kind="data_drift", feature="income", test="ks",
        statistic=0.4, p_value=1e-9, drifted=True, window_start_seq=1000, window_end_seq=2000,
        window_start_offset=1000, window_end_offset=1999, window_start_time=when.isoformat(),
        window_end_time=when.isoformat(), reference_size=1000, current_size=1000,
        effect=0.3, severity="high")
    fields.update(overrides)
    return DriftEvent(**fields)


def count(engine, model: str) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(DriftResult)
                            .where(DriftResult.model_name == model)).scalar_one()


def test_inserting_the_same_events_twice_keeps_one_row_each(engine, unique):
    now = datetime.now(UTC)
    events = [drift_event(unique, now, feature=f"f{i}") for i in range(5)]
    assert save_drift_events(engine, events) == 5
    assert save_drift_events(engine, events + [drift_event(unique, now)]) == 1
    assert count(engine, unique) == 6


def test_rows_land_in_their_monthly_partition_and_far_ones_in_default(engine, unique):
    now = datetime.now(UTC)
    far = datetime(2031, 5, 17, tzinfo=UTC)
    save_drift_events(engine, [drift_event(unique, now), drift_event(unique, far)])
    with engine.connect() as conn:
        where = {
            row.part: row.n for row in conn.execute(text(
                "SELECT tableoid::regclass::text AS part, count(*) AS n FROM drift_events "
                "WHERE model_name = :m GROUP BY 1"), {"m": unique})
        }
    assert where == {partition_name("drift_events", month_start(now.date())): 1,
                     "drift_events_default": 1}


def test_creating_a_partition_moves_its_rows_out_of_default(engine, unique):
    when = datetime(2030, 2, 10, tzinfo=UTC)
    save_drift_events(engine, [drift_event(unique, when)])
    name = partition_name("drift_events", date(2030, 2, 1))
    with engine.begin() as conn:
        conn.execute(text(f'DROP TABLE IF EXISTS "{name}"'))
    try:
        with engine.begin() as conn:
            created = ensure_partitions(conn, date(2030, 2, 1), months_back=0, months_ahead=0,
                                        tables={"drift_events": "timestamp"})
        assert created == [name]
        with engine.connect() as conn:
            part = conn.execute(text(
                "SELECT tableoid::regclass::text FROM drift_events WHERE model_name = :m"),
                {"m": unique}).scalar_one()
        assert part == name
        with engine.begin() as conn:  # idempotent
            assert ensure_partitions(conn, date(2030, 2, 1), months_back=0, months_ahead=0,
                                     tables={"drift_events": "timestamp"}) == []
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM drift_events WHERE model_name = :m"), {"m": unique})
            conn.execute(text(f'ALTER TABLE drift_events DETACH PARTITION "{name}"'))
            conn.execute(text(f'DROP TABLE "{name}"'))

"""The ORM tables and the Alembic migrations describe the same schema, on both stores.

The ORM (``storage/models.py``, ``storage/governance.py``, ``storage/service.py``) is what the
code reads and writes; the migrations are what a database really has. A column added to one and
not the other fails here, not in production: a fresh database is upgraded to head and compared
with the ORM metadata by Alembic's autogenerate (``compare_metadata``), which must find nothing.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

import storage.governance  # noqa: F401 - registers its tables on Base.metadata
import storage.service  # noqa: F401 - registers its tables on Base.metadata
from storage.db import make_engine, upgrade
from storage.models import Base

#: monthly range partitions and the default partition of a partitioned table
#: (storage/partitions.py): created by maintenance, not by the ORM
PARTITION = re.compile(r"^(?P<parent>.+)_(default|\d{4}_\d{2})$")


def _not_a_partition(obj: Any, name: str | None, type_: str, reflected: bool,
                     compare_to: Any) -> bool:
    table = obj if type_ == "table" else getattr(obj, "table", None)
    table_name = getattr(table, "name", name) or ""
    match = PARTITION.match(table_name)
    return not (reflected and compare_to is None and match
                and match.group("parent") in Base.metadata.tables)


def _differences(url: str) -> list[Any]:
    upgrade(url)
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"include_object": _not_a_partition, "compare_type": True})
            return list(compare_metadata(context, Base.metadata))
    finally:
        engine.dispose()


@pytest.fixture
def fresh_postgres_schema(database_url: str) -> Iterator[str]:
    """A fresh, empty schema in the test database, as if it were a new database."""
    schema = f"mig_{uuid.uuid4().hex[:10]}"
    engine = make_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in database_url else "?"
    try:
        yield f"{database_url}{separator}options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


@pytest.mark.integration
def test_migrations_match_the_orm_on_postgresql(fresh_postgres_schema: str) -> None:
    assert _differences(fresh_postgres_schema) == []


def test_migrations_match_the_orm_on_sqlite(tmp_path: Path) -> None:
    assert _differences(f"sqlite:///{tmp_path / 'fresh.sqlite3'}") == []


def test_a_column_missing_from_the_migrations_is_found(tmp_path: Path) -> None:
    from sqlalchemy import Column, Integer

    table = Base.metadata.tables["drift_events"]
    extra = Column("not_in_any_migration", Integer)
    table.append_column(extra)
    try:
        found = _differences(f"sqlite:///{tmp_path / 'fresh.sqlite3'}")
    finally:
        table._columns.remove(extra)  # noqa: SLF001 - undo the test's change to shared metadata
    assert [d[0] for d in found] == ["add_column"]
    assert found[0][3].name == "not_in_any_migration"


@pytest.mark.integration
def test_renaming_tables_after_their_topics_keeps_rows_and_partitions(fresh_postgres_schema: str) -> None:
    """Migration 0007 on a database that already holds drift results in its partitions."""
    upgrade(fresh_postgres_schema, "0006")
    engine = make_engine(fresh_postgres_schema)
    row = {"event_id": uuid.uuid4(), "model_name": "m", "model_version": "1", "kind": "data_drift",
           "feature": "x", "test": "ks", "statistic": 0.5, "severity": "high", "drifted": True,
           "window_start_seq": 0, "window_end_seq": 10, "window_start_offset": 0,
           "window_end_offset": 9, "reference_size": 10, "current_size": 10}
    try:
        with engine.begin() as conn:
            for when in ("now()", "'2031-05-17T00:00:00+00'"):
                conn.execute(text(
                    "INSERT INTO drift_results (event_id, timestamp, model_name, model_version, kind, "
                    "feature, test, statistic, severity, drifted, window_start_seq, window_end_seq, "
                    "window_start_offset, window_end_offset, window_start_time, window_end_time, "
                    f"reference_size, current_size) VALUES (:event_id, {when}, :model_name, "
                    ":model_version, :kind, :feature, :test, :statistic, :severity, :drifted, "
                    ":window_start_seq, :window_end_seq, :window_start_offset, :window_end_offset, "
                    f"{when}, {when}, :reference_size, :current_size)"),
                    {**row, "event_id": uuid.uuid4()})
        upgrade(fresh_postgres_schema)
        with engine.connect() as conn:
            parts = conn.execute(text(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'drift_events'")).scalars().all()
            count = conn.execute(text("SELECT count(*) FROM drift_events")).scalar_one()
            old = conn.execute(text("SELECT to_regclass('drift_results')")).scalar_one()
    finally:
        engine.dispose()
    assert count == 2 and old is None
    assert parts and all(name.startswith("drift_events_") for name in parts), parts
    assert "drift_events_default" in parts

"""Monthly partitions of the service tables, and retention dropping only old months."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, text

from storage.audit import write_audit
from storage.partitions import ensure_partitions, maintain_partitions, month_start, partition_name
from storage.retention import expired_partitions
from storage.service import RedTeamRow
from tests.integration.conftest import run_cli

pytestmark = pytest.mark.integration


def red_team(model: str, when: datetime) -> dict:
    return dict(event_id=uuid.uuid4(), timestamp=when, model_name=model, model_version="1",
                attack_type="evasion", attack_name=None, success=False, severity="low",
                details=None, source="api")


def where(engine, table: str, column: str, value: str) -> dict[str, int]:
    with engine.connect() as conn:
        return {row.part: row.n for row in conn.execute(text(
            f"SELECT tableoid::regclass::text AS part, count(*) AS n FROM {table} "  # noqa: S608
            f"WHERE {column} = :v GROUP BY 1"), {"v": value})}


def partitions(engine, table: str) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = :t"), {"t": table}).scalars())


def test_audit_rows_land_in_their_month(engine, unique):
    now = datetime.now(UTC)
    write_audit(engine, {"timestamp": now, "request_id": unique, "actor": "t", "key_id": None,
                         "role": None, "method": "POST", "path": "/x", "action": "POST /x",
                         "status_code": 201, "client": None, "duration_ms": 1.0, "details": None})
    write_audit(engine, {"timestamp": datetime(2035, 3, 1, tzinfo=UTC), "request_id": unique,
                         "actor": "t", "key_id": None, "role": None, "method": "POST", "path": "/x",
                         "action": "POST /x", "status_code": 201, "client": None, "duration_ms": 1.0,
                         "details": None})
    assert where(engine, "audit_log", "request_id", unique) == {
        partition_name("audit_log", month_start(now.date())): 1, "audit_log_default": 1}


def test_maintenance_creates_months_ahead_for_every_partitioned_table(engine):
    today = datetime.now(UTC).date()
    maintain_partitions(engine, today, months_ahead=2)
    for table in ("drift_events", "performance_metrics", "audit_log", "red_team_results"):
        names = partitions(engine, table)
        for shift in (0, 1, 2):
            assert partition_name(table, month_start(today, shift)) in names, (table, shift)
        assert f"{table}_default" in names


def test_retention_drops_only_whole_old_months(engine, base_env, unique):
    today = datetime.now(UTC).date()
    old = [month_start(today, -14), month_start(today, -13)]
    with engine.begin() as conn:
        ensure_partitions(conn, old[1], months_back=1, months_ahead=0,
                          tables={"red_team_results": "timestamp"})
    model = f"{unique}-rt"
    now = datetime.now(UTC)
    rows = [red_team(model, datetime(m.year, m.month, 15, tzinfo=UTC)) for m in old]
    rows += [red_team(model, now), red_team(model, datetime(2040, 1, 1, tzinfo=UTC))]
    with engine.begin() as conn:
        conn.execute(insert(RedTeamRow), rows)
    current = partition_name("red_team_results", month_start(today))
    assert where(engine, "red_team_results", "model_name", model) == {
        partition_name("red_team_results", old[0]): 1, partition_name("red_team_results", old[1]): 1,
        current: 1, "red_team_results_default": 1}

    with engine.connect() as conn:
        for months in (1, 12):
            names = {p.partition for p in expired_partitions(conn, today, months)}
            assert not any(n.endswith("_default") for n in names)
            assert not any(n.endswith(f"{today:%Y_%m}") for n in names)
        with pytest.raises(ValueError):
            expired_partitions(conn, today, 0)

    dry = run_cli(base_env, "retention", "--older-than-months", "12", "--table", "red_team_results",
                  "--dry-run")
    for month in old:
        assert f"would drop {partition_name('red_team_results', month)}" in dry.stdout
    assert len(where(engine, "red_team_results", "model_name", model)) == 4  # nothing dropped

    done = run_cli(base_env, "retention", "--older-than-months", "12", "--table", "red_team_results")
    assert "dropped" in done.stdout
    left = partitions(engine, "red_team_results")
    assert not {partition_name("red_team_results", m) for m in old} & left
    assert {current, "red_team_results_default"} <= left
    assert where(engine, "red_team_results", "model_name", model) == {
        current: 1, "red_team_results_default": 1}

    bad = run_cli(base_env, "retention", "--older-than-months", "0", check=False)
    assert bad.returncode == 2
    bad = run_cli(base_env, "retention", "--older-than-months", "3", "--table", "api_keys", check=False)
    assert bad.returncode == 2 and "not partitioned" in bad.stderr


def test_keys_cli_shows_the_token_once_and_revokes(base_env, unique):
    created = run_cli(base_env, "keys", "create", f"{unique}-cli", "--role", "operator")
    token = created.stdout.strip()
    assert token.startswith("dl_") and "shown only now" in created.stderr
    listed = run_cli(base_env, "keys", "list").stdout
    line = next(line for line in listed.splitlines() if line.startswith(f"{unique}-cli\t"))
    assert "operator" in line and token not in listed and "active" in line
    run_cli(base_env, "keys", "revoke", f"{unique}-cli")
    assert "revoked" in next(line for line in run_cli(base_env, "keys", "list").stdout.splitlines()
                             if line.startswith(f"{unique}-cli\t"))
    again = run_cli(base_env, "keys", "create", f"{unique}-cli", "--role", "viewer", check=False)
    assert again.returncode == 2 and "already exists" in again.stderr
    wrong = run_cli(base_env, "keys", "create", f"{unique}-x", "--role", "root", check=False)
    assert wrong.returncode == 2


def test_partition_of_a_row_is_fixed_by_its_timestamp(engine, unique):
    # the same event twice (same event_id and timestamp) is one row, in one partition
    row = red_team(f"{unique}-dup", datetime.now(UTC) - timedelta(days=1))
    from storage.repository import insert_ignoring_duplicates

    assert insert_ignoring_duplicates(engine, RedTeamRow.__table__, [row]) == 1
    assert insert_ignoring_duplicates(engine, RedTeamRow.__table__, [row]) == 0

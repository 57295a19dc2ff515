"""Mutations from a shell are audited like the API's, with the OS user as the actor: keys,
rollback, retention, reference set (real commands, real services, both stores)."""

from __future__ import annotations

import getpass
from datetime import date

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from storage.service import ApiKey, AuditEntry
from tests.integration.conftest import run_cli

pytestmark = pytest.mark.integration


def cli_rows(engine, action: str, since_id_rows: set) -> list[AuditEntry]:
    with Session(engine) as session:
        rows = session.scalars(select(AuditEntry).where(AuditEntry.action == f"CLI {action}")).all()
    return [r for r in rows if r.id not in since_id_rows]


def seen(engine, action: str) -> set:
    return {r.id for r in cli_rows(engine, action, set())}


def test_keys_create_and_revoke_write_their_audit_rows(base_env, engine, unique):
    before = seen(engine, "keys create") | seen(engine, "keys revoke")
    run_cli(base_env, "keys", "create", f"{unique}-cli", "--role", "operator")
    run_cli(base_env, "keys", "revoke", f"{unique}-cli")
    created = [r for r in cli_rows(engine, "keys create", before) if r.details.get("key") == f"{unique}-cli"]
    revoked = [r for r in cli_rows(engine, "keys revoke", before) if r.details.get("key") == f"{unique}-cli"]
    assert len(created) == len(revoked) == 1
    for row in (created[0], revoked[0]):
        assert (row.actor, row.role, row.method, row.status_code, row.outcome) == (
            getpass.getuser(), "cli", "CLI", 200, "success")
    assert created[0].details["role"] == "operator"
    # a revocation of an unknown key changes nothing and is refused
    assert run_cli(base_env, "keys", "revoke", f"{unique}-nobody", check=False).returncode == 2


@pytest.fixture
def cli_audit_refused(engine, store, unique):
    """The database refuses CLI audit rows (a trigger), as a full or broken audit table would."""
    if store == "postgresql":
        ddl = [f"CREATE FUNCTION {unique}_refuse() RETURNS trigger AS $$ BEGIN "
               "IF NEW.role = 'cli' THEN RAISE EXCEPTION 'audit refused'; END IF; "
               "RETURN NEW; END $$ LANGUAGE plpgsql",
               f"CREATE TRIGGER {unique}_refuse BEFORE INSERT ON audit_log FOR EACH ROW "
               f"EXECUTE FUNCTION {unique}_refuse()"]
        undo = [f"DROP TRIGGER {unique}_refuse ON audit_log", f"DROP FUNCTION {unique}_refuse()"]
    else:
        ddl = [f"CREATE TRIGGER {unique}_refuse BEFORE INSERT ON audit_log "
               "WHEN NEW.role = 'cli' BEGIN SELECT RAISE(ABORT, 'audit refused'); END"]
        undo = [f"DROP TRIGGER {unique}_refuse"]
    with engine.begin() as conn:
        for statement in ddl:
            conn.execute(text(statement))
    yield
    with engine.begin() as conn:
        for statement in undo:
            conn.execute(text(statement))


def test_no_key_is_created_or_reference_published_without_its_audit_row(base_env, engine, unique,
                                                                        cli_audit_refused, tmp_path):
    assert run_cli(base_env, "keys", "create", f"{unique}-ghost", "--role", "admin",
                   check=False).returncode != 0
    with Session(engine) as session:
        assert session.scalars(select(ApiKey).where(ApiKey.name == f"{unique}-ghost")).first() is None
    path = tmp_path / "ref.csv"
    path.write_text("x,city\n" + "".join(f"{i},c{i % 3}\n" for i in range(50)))
    result = run_cli(base_env, "reference", "set", unique, "1", "--from", str(path), check=False)
    assert result.returncode != 0 and "audit log is unavailable" in result.stderr, result.stderr


def test_reference_set_and_rollback_are_audited_with_their_outcome(base_env, engine, unique, tmp_path):
    before = seen(engine, "reference set") | seen(engine, "model rollback")
    path = tmp_path / "ref.csv"
    path.write_text("x,city\n" + "".join(f"{i},c{i % 3}\n" for i in range(50)))
    run_cli(base_env, "reference", "set", unique, "1", "--from", str(path))
    (row,) = [r for r in cli_rows(engine, "reference set", before) if r.details.get("model") == unique]
    assert row.status_code == 200 and row.outcome == "success" and row.details["features"] == 2
    # rolling back a model MLflow does not know: refused (exit 2), and the attempt recorded
    assert run_cli(base_env, "model", "rollback", unique, check=False).returncode == 2
    (row,) = [r for r in cli_rows(engine, "model rollback", before) if r.details.get("model") == unique]
    assert row.status_code == 404 and row.outcome == "rejected" and row.actor == getpass.getuser()


def test_retention_drops_partitions_and_their_audit_row_together(base_env, engine, store):
    if store != "postgresql":
        pytest.skip("retention drops PostgreSQL partitions; on SQLite it refuses (exit 2)")
    from storage.partitions import ensure_partitions

    with engine.begin() as conn:
        ensure_partitions(conn, date(2001, 1, 15), months_back=0, months_ahead=0,
                          tables={"performance_metrics": "timestamp"})
    before = seen(engine, "retention")
    out = run_cli(base_env, "retention", "--older-than-months", "12", "--table", "performance_metrics")
    assert "performance_metrics_2001_01" in out.stdout
    rows = cli_rows(engine, "retention", before)
    assert any("performance_metrics_2001_01" in r.details["dropped"] for r in rows), rows

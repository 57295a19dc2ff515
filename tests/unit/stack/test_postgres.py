"""How the stack names, finds and configures its PostgreSQL cluster (no server started)."""

from __future__ import annotations

from pathlib import Path

from stack import pgcluster


def test_the_default_port_gets_the_plain_name_others_their_own_cluster() -> None:
    assert pgcluster.cluster_name(55432) == "driftline"
    assert pgcluster.cluster_name(55999) == "driftline-55999"


def fake_install(root: Path, *versions: str) -> Path:
    for version in versions:
        (root / version / "bin").mkdir(parents=True)
        (root / version / "bin" / "postgres").touch()
    (root / "17").mkdir(exist_ok=True)  # a leftover dir without a server is not installed
    return root


def test_installed_versions_sorts_numerically(tmp_path: Path) -> None:
    lib = fake_install(tmp_path / "lib", "9", "15", "16")
    assert pgcluster.installed_versions(lib) == ["9", "15", "16"]
    assert pgcluster.installed_versions(tmp_path / "absent") == []


def test_pick_version_prefers_the_version_that_already_holds_the_cluster(tmp_path: Path) -> None:
    lib = fake_install(tmp_path / "lib", "15", "16")
    etc = tmp_path / "etc"
    assert pgcluster.pick_version("driftline", lib, etc) == "16"
    (etc / "15" / "driftline").mkdir(parents=True)
    (etc / "15" / "driftline" / "postgresql.conf").touch()
    assert pgcluster.pick_version("driftline", lib, etc) == "15"
    assert pgcluster.pick_version("driftline", tmp_path / "none", etc) is None


def test_database_url_is_the_documented_one() -> None:
    assert pgcluster.database_url(55432) == \
        "postgresql+psycopg://driftline:driftline@127.0.0.1:55432/driftline"


def test_overrides_listen_on_quoted_loopback_only() -> None:
    # Unquoted, 127.0.0.1 is a syntax error in postgresql.conf (it parses as a number).
    assert "listen_addresses = '127.0.0.1'" in pgcluster.OVERRIDES.splitlines()


def test_setup_sql_creates_role_and_database_only_when_missing() -> None:
    sql = pgcluster.SETUP_SQL
    assert sql.count("\\gexec") == 3
    assert "ALTER ROLE %I CREATEDB" in sql  # the test suite makes a database per run
    assert "WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'driftline')" in sql
    assert "WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'driftline')" in sql

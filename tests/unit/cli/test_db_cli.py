"""Migrations from the CLI: an unreachable database is one line, without its credentials."""

from __future__ import annotations

import sqlite3

import pytest
from click.testing import CliRunner

from cli.db import db, migrate
from cli.demo_support import free_port as closed_port  # bound, then released: nothing listens
from cli.errors import BadInput


def test_an_unreachable_database_is_one_line_naming_it_without_credentials():
    url = f"postgresql+psycopg://driftline:s3cret@127.0.0.1:{closed_port()}/driftline"
    with pytest.raises(BadInput) as raised:
        migrate(url)
    message = str(raised.value)
    assert message.startswith("database: cannot migrate 127.0.0.1:")
    assert "s3cret" not in message and "\n" not in message


@pytest.fixture
def fresh_settings():
    from settings import get_settings

    get_settings.cache_clear()  # read this test's environment, not a cached one
    yield
    get_settings.cache_clear()


def test_db_upgrade_creates_the_sqlite_schema(tmp_path, monkeypatch, fresh_settings):
    monkeypatch.setenv("STATE_DIR", str(tmp_path))
    monkeypatch.delenv("DATABASE__URL", raising=False)
    result = CliRunner().invoke(db, ["upgrade"], catch_exceptions=False)
    assert result.exit_code == 0 and "database at revision head" in result.output
    store = tmp_path / "driftline.sqlite3"
    with sqlite3.connect(store) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"drift_events", "performance_metrics", "alembic_version"} <= tables

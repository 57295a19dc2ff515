"""``driftline db upgrade``: the schema changes through Alembic migrations only."""

from __future__ import annotations

import click

from cli.errors import BadInput


@click.group()
def db() -> None:
    """Database schema management."""


@db.command()
@click.option("--revision", default="head", show_default=True)
def upgrade(revision: str) -> None:
    """Apply migrations (creates the SQLite file when no DATABASE__URL is set)."""
    from sqlalchemy.exc import OperationalError

    from cli.settings_util import load_settings
    from storage.db import upgrade as run_upgrade

    settings = load_settings()
    try:
        run_upgrade(settings.database_url, revision)
    except OperationalError as exc:
        raise BadInput(f"database unreachable: {str(exc.orig).strip().splitlines()[0]}") from None
    click.echo(f"database at revision {revision}")

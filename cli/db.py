"""``driftline db upgrade``: the schema changes through Alembic migrations only."""

from __future__ import annotations

import click

from cli.errors import BadInput
from cli.helptext import WholeHelpGroup


def migrate(database_url: str, revision: str = "head") -> None:
    """Apply migrations, or fail with one line naming the database (never its credentials)
    and the driver's first line of complaint."""
    from sqlalchemy.exc import OperationalError

    from storage.db import upgrade as run_upgrade

    try:
        run_upgrade(database_url, revision)
    except OperationalError as exc:
        where = database_url.split("@")[-1]
        raise BadInput(f"database: cannot migrate {where}: "
                       f"{str(exc.orig).strip().splitlines()[0]}") from None


@click.group(cls=WholeHelpGroup)
def db() -> None:
    """Database schema management."""


@db.command()
@click.option("--revision", default="head", show_default=True)
def upgrade(revision: str) -> None:
    """Apply migrations (creates the SQLite file when no DATABASE__URL is set)."""
    from cli.settings_util import load_settings

    migrate(load_settings().database_url, revision)
    click.echo(f"database at revision {revision}")

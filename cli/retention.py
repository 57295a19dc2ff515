"""``driftline retention``: drop whole monthly partitions older than N months."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from cli.errors import BadInput
from cli.settings_util import load_settings


@click.command()
@click.option("--older-than-months", "months", type=click.IntRange(min=1), required=True,
              help="Drop partitions whose whole month ended more than N months ago.")
@click.option("--table", "tables", multiple=True,
              help="Only these tables (repeatable); every partitioned table by default.")
@click.option("--dry-run", is_flag=True, help="List what would be dropped; drop nothing.")
def retention(months: int, tables: tuple[str, ...], dry_run: bool) -> None:
    """Drop old monthly partitions; never the DEFAULT partition, never the current month."""
    from sqlalchemy.exc import OperationalError

    from storage.audit import audit_row, cli_entry
    from storage.db import make_engine
    from storage.models import PARTITIONED
    from storage.retention import drop_partitions, expired_partitions

    unknown = [t for t in tables if t not in PARTITIONED]
    if unknown:
        raise BadInput(f"not partitioned: {', '.join(unknown)} (known: {', '.join(PARTITIONED)})")
    engine = make_engine(load_settings().database_url)
    if engine.dialect.name != "postgresql":
        raise BadInput("retention works on PostgreSQL's partitions; DATABASE__URL is not PostgreSQL")
    today = datetime.now(UTC).date()
    try:
        with engine.begin() as conn:
            expired = expired_partitions(conn, today, months, tables or None)
            for item in expired:
                verb = "would drop" if dry_run else "dropping"
                click.echo(f"{verb} {item.partition} ({item.month:%Y-%m}, {item.rows} row(s))")
            if not dry_run and expired:
                dropped = drop_partitions(conn, expired)
                # in the same transaction: the partitions go only if their audit row is written
                audit_row(conn, cli_entry("retention", details={
                    "older_than_months": months, "dropped": dropped,
                    "rows": sum(item.rows for item in expired)}))
    except OperationalError as exc:
        raise BadInput(f"database unreachable: {str(exc.orig).strip().splitlines()[0]}") from None
    if not expired:
        click.echo(f"nothing older than {months} month(s)")
    elif not dry_run:
        click.echo(f"dropped {len(expired)} partition(s)")

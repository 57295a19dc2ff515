"""``driftline api``: migrate the database, then serve the query API with uvicorn."""

from __future__ import annotations

import click

from cli.settings_util import load_settings


@click.command()
@click.option("--host", default=None, help="Overrides API__HOST.")
@click.option("--port", type=int, default=None, help="Overrides API__PORT.")
@click.option("--migrate/--no-migrate", default=True, show_default=True,
              help="Apply database migrations before starting.")
def api(host: str | None, port: int | None, migrate: bool) -> None:
    """Serve the query API (drift, performance, red team, export, audit)."""
    settings = load_settings()
    if migrate:
        from cli.db import migrate as run_migrations

        run_migrations(settings.database_url)

    import uvicorn

    from api.main import create_app
    from observability import logs, tracing

    json_logs = logs.logging_config(settings.log_level, settings.log_format,
                                    loggers=("uvicorn", "uvicorn.error", "uvicorn.access"))
    tracing.configure(settings.tracing, component="api")
    try:
        uvicorn.run(create_app(settings), host=host or settings.api.host,
                    port=port or settings.api.port,
                    log_level="warning" if settings.log_level == "warn" else settings.log_level,
                    proxy_headers=True, server_header=False,
                    **({"log_config": json_logs} if json_logs is not None else {}))
    finally:
        tracing.shutdown()  # export what is pending

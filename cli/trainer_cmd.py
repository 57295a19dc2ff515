"""``driftline trainer``: serve the reference training service (see ``trainer/service.py``)."""

from __future__ import annotations

import click

from cli.settings_util import load_settings


@click.command()
@click.option("--host", default=None, help="Overrides TRAINER__HOST.")
@click.option("--port", type=int, default=None, help="Overrides TRAINER__PORT.")
def trainer(host: str | None, port: int | None) -> None:
    """Serve the reference training service until interrupted."""
    import uvicorn

    from cli.model_cmd import require_trainer_extra

    require_trainer_extra()

    from storage.db import make_engine
    from trainer.service import JobManager, build_app
    from trainer.training import TrainingConfig, TrainingRequest, run_training

    settings = load_settings()
    t = settings.trainer
    config = TrainingConfig(
        tracking_uri=settings.mlflow.tracking_uri, experiment_prefix=settings.mlflow.experiment_prefix,
        window_hours=t.window_hours, max_rows=t.max_rows, min_rows=t.min_rows,
        holdout_share=t.holdout_share, step_delay=t.step_delay)
    engine = make_engine(settings.database_url, pool_size=2)

    def runner(request: TrainingRequest, report):  # type: ignore[no-untyped-def]
        return run_training(request, config, engine, report)

    manager = JobManager(runner, concurrency=t.concurrency)
    app = build_app(manager, settings.mlflow.registered_name)
    click.echo(f"driftline trainer: listening on http://{host or t.host}:{port or t.port}")
    try:
        uvicorn.run(app, host=host or t.host, port=port or t.port, log_level="warning")
    finally:
        manager.shutdown()
        engine.dispose()

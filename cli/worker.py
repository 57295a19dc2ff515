"""``driftline worker``: migrate the database, then run the faust worker."""

from __future__ import annotations

import click

from cli.errors import BadInput
from cli.settings_util import load_settings


@click.command()
@click.option("--loglevel", "-l", type=click.Choice(["debug", "info", "warn", "error"]),
              default=None, help="Overrides LOG_LEVEL.")
@click.option("--migrate/--no-migrate", default=True, show_default=True,
              help="Apply database migrations before starting.")
def worker(loglevel: str | None, migrate: bool) -> None:
    """Run the stream-processing worker (all agents) until interrupted."""
    settings = load_settings()
    if migrate:
        from cli.db import migrate as run_migrations

        run_migrations(settings.database_url)

    import asyncio

    from aiokafka.errors import KafkaError

    from streams.admin import ensure_topics

    # Every topic exists before an agent sends to it: the broker does not auto-create them,
    # and a send to a missing topic would wait for it forever.
    try:
        asyncio.run(ensure_topics(settings.kafka, settings.kafka.topics.all_names()))
    except KafkaError as exc:
        raise BadInput(f"kafka: cannot reach {settings.kafka.bootstrap_servers}: {exc}") from None

    _import_agents()
    import scipy.stats  # noqa: F401 - the first window's exact KS would otherwise pay 0.4 s here

    from drift import online

    online.compile_now()  # the first reference's calibration would otherwise pay for it

    from faust_app import app
    from observability import logs, metrics, tracing

    metrics.install(app)  # /metrics on WEB_PORT: faust's sensor and driftline's own series
    tracing.configure(settings.tracing, component="worker")
    level = loglevel or settings.log_level
    json_logs = logs.logging_config(level, settings.log_format)
    if json_logs is not None:
        import logging

        logging.captureWarnings(True)  # warnings become JSON records too
    freeze_imported_objects()
    # quiet: with JSON logs the banner would be the only line that is not JSON
    _worker_class()(app, loglevel=level, logging_config=json_logs,
                    quiet=json_logs is not None).execute_from_commandline()


def _worker_class() -> type:
    import faust

    from resilience import backpressure

    class Worker(faust.Worker):  # type: ignore[misc]
        """faust's worker; on SIGTERM/SIGINT, work held for a dependency that is down is
        given up (unacknowledged) first — faust's shutdown waits for every agent to finish
        what it holds, and a held batch never would."""

        def _on_sigterm(self) -> None:
            backpressure.interrupt()
            super()._on_sigterm()

        def _on_sigint(self) -> None:
            backpressure.interrupt()
            super()._on_sigint()

    return Worker


#: the cycle collector's thresholds for a worker (Python's are 700, 10, 10): a young
#: generation collected every 20,000 net allocations instead of 700
COLLECTOR_THRESHOLDS = (20_000, 20, 20)


def freeze_imported_objects() -> int:
    """Collect once, then move every object alive now into the collector's permanent
    generation, and collect less often; returns how many were frozen. Called after every
    import and before faust starts: nothing of the stream (no message, no batch, no table
    value) exists yet.

    A worker imports ≈ 270,000 objects tracked by the cycle collector — modules, classes and
    functions of faust, River, SciPy, pandas and scikit-learn — that live as long as the
    process. Every batch promotes some short-lived objects into the oldest generation, which
    sets off a full collection every couple of seconds, and each traversed all of them:
    ≈ 180 ms apiece, ≈ 12 % of the worker's CPU in the stream benchmark (``gc.callbacks``:
    0.9 s of full collections per 10 s of processing). Frozen, they are no longer traversed.
    What is frozen is never collected, so the collection first frees the cycles the imports
    left behind; whatever is made later is collected as before, so memory stays bounded.

    With Python's thresholds (700, 10, 10) the worker still spent ≈ 1.3 s of 25 s of CPU in
    ≈ 4,600 collections over 200,000 events, mostly young objects of a batch that would die
    by reference counting anyway; at :data:`COLLECTOR_THRESHOLDS` ≈ 0.25 s in ≈ 75, and
    its peak RSS did not move (``gc.callbacks`` in the stream benchmark's worker).

    (An earlier version froze once the worker had started, after table recovery, and so
    froze objects of its first batches too; it was reverted while a failover test's lost
    events were looked into. Here nothing of the stream exists yet.)"""
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(*COLLECTOR_THRESHOLDS)
    return gc.get_freeze_count()


def _import_agents() -> None:
    """Import every agent module now: faust's autodiscovery only logs a module that fails to
    import and starts without its agents, which would silently drop part of the pipeline."""
    import importlib
    import pkgutil

    import agents

    for module in pkgutil.iter_modules(agents.__path__):
        try:
            importlib.import_module(f"agents.{module.name}")
        except Exception as exc:
            raise click.ClickException(f"agent module agents.{module.name} does not import: "
                                       f"{exc!r}") from exc

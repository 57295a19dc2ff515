"""The ``driftline`` command.

Sub-commands are imported only when run, so ``driftline detect`` never pays for faust,
SQLAlchemy or the Kafka client.
"""

from __future__ import annotations

import importlib
import sys

import click

#: command name -> ("module:attribute", one-line help); an explicit table, no registration
#: as an import side effect, and ``--help`` imports nothing.
COMMANDS: dict[str, tuple[str, str]] = {
    "worker": ("cli.worker:worker", "Run the stream-processing worker."),
    "replay": ("cli.replay:replay", "Produce JSON-lines events to a topic."),
    "stack": ("cli.stack:stack",
              "Start, stop or inspect the local services (Kafka, PostgreSQL, MLflow, SMTP)."),
    "demo": ("cli.demo:demo", "Stream traffic with injected drift and show what driftline does."),
    "schemas": ("cli.schemas_cmd:schemas", "Export the event JSON Schemas for producers."),
    "db": ("cli.db:db", "Apply database migrations."),
    "api": ("cli.api:api", "Serve the query API."),
    "keys": ("cli.keys:keys", "Create, list or revoke API keys."),
    "retention": ("cli.retention:retention", "Drop monthly partitions older than N months."),
    "trainer": ("cli.trainer_cmd:trainer", "Serve the reference training service."),
    "model": ("cli.model_cmd:model", "Bootstrap a champion, roll back, show aliases."),
    "detect": ("cli.detect:detect", "Compare a current table with a reference and report drift."),
    "profile": ("cli.profile:profile", "Save a reference table's profile for `detect`."),
    "reference": ("cli.reference:reference", "Set the reference a model version is tested against."),
}


class LazyGroup(click.Group):
    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module_name, attr = entry[0].split(":")
        return getattr(importlib.import_module(module_name), attr)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="driftline")
def cli() -> None:
    """driftline: drift monitoring for ML models, live on a Kafka stream."""


def main() -> None:
    try:
        cli.main(prog_name="driftline", standalone_mode=True)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()

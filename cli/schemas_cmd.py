"""``driftline schemas export``: JSON Schema files for producers."""

from __future__ import annotations

import json
from pathlib import Path

import click

from cli.errors import BadInput
from cli.helptext import WholeHelpGroup
from cli.settings_util import load_settings


@click.group(cls=WholeHelpGroup)
def schemas() -> None:
    """Event schemas."""


@schemas.command()
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False),
              required=True,
              help="Directory to write <Event>.schema.json files into (required: no default "
                   "that could land in a source tree).")
def export(out_dir: Path) -> None:
    """Write one JSON Schema (draft 2020-12) per event type, DeadLetter included, with the
    configured size limits."""
    from schemas.export import all_schemas

    settings = load_settings()
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        for name, schema in all_schemas(settings.limits.for_events()).items():
            path = out_dir / f"{name}.schema.json"
            path.write_text(json.dumps(schema, indent=2) + "\n")
            click.echo(str(path))
    except OSError as exc:
        raise BadInput(f"{out_dir}: cannot write: {exc.strerror}") from None

"""``driftline profile``: save what ``detect`` needs of a reference table as JSON.

Numeric columns keep PSI bins, a 1,001-point quantile sketch, mean and standard deviation,
and their exact values when there are at most 10,000 of them; categorical columns keep
category counts. ``driftline detect --reference ref.json`` then needs no reference data.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from cli.errors import BadInput


@click.command(name="profile")
@click.argument("reference", type=click.Path(path_type=Path))
@click.option("--out", "out", required=True, type=click.Path(path_type=Path),
              help="Where to write the profile JSON.")
@click.option("--config", "config_path", type=click.Path(path_type=Path), default=None,
              help="TOML file: kinds, bins and ignored columns (as for `driftline detect`).")
def profile(reference: Path, out: Path, config_path: Path | None) -> None:
    """Profile a REFERENCE CSV or Parquet file for later `driftline detect` runs."""
    from cli.detect import Side, build_profiles, load_config, resolve_kind, single_threaded_blas

    single_threaded_blas()
    from cli.tabular import read_table
    from drift import EXACT_VALUES_LIMIT, profiles_to_dict

    config = load_config(config_path)
    side = Side(reference, table=read_table(reference))
    for name, column in config.columns.items():
        if name not in side.columns and not column.ignore:
            raise BadInput(f"{config.where(name)}: column '{name}' is not in {reference}")
    names = [name for name in side.columns if not config.column(name).ignore]
    if not names:
        raise BadInput("every column is ignored by --config; nothing to profile")
    kinds = {name: resolve_kind(name, side, None, config) for name in names}
    profiles = build_profiles(side, names, kinds, config, exact_limit=EXACT_VALUES_LIMIT)
    try:
        out.write_text(json.dumps(profiles_to_dict(profiles), allow_nan=False), encoding="utf-8")
    except OSError as error:
        raise BadInput(f"{out}: cannot write: {error.strerror or error}") from None
    numeric = sum(kind == "numeric" for kind in kinds.values())
    click.echo(f"wrote {out}: {len(names)} features ({numeric} numeric, "
               f"{len(names) - numeric} categorical) from {side.table.num_rows} rows", err=True)

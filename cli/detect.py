"""``driftline detect``: compare a current table with a reference, once, from files.

The reference is a CSV/Parquet file or a profile written by ``driftline profile``; the
current data is CSV or Parquet. Both go through :func:`drift.compare`, the function the
stream worker calls at every window close.

A TOML config (``--config``) may set, at the top level, ``alpha``, ``dataset_share``,
``bins``, ``min_sample`` and any threshold a registered test reads (``min_psi``,
``min_distance``, ``medium_psi``, ``high_psi``, ``min_missing_delta``,
``high_missing_delta``: :data:`drift.stattests.THRESHOLDS`); and per column, under
``[columns.NAME]``, ``kind``, ``tests``, ``bins``, ``ignore`` and the same thresholds::

    alpha = 0.01
    [columns.age]
    kind = "numeric"
    tests = ["ks", "psi"]
    min_psi = 0.2
    [columns.customer_id]
    ignore = true
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from cli.errors import BadInput

if TYPE_CHECKING:
    import pyarrow as pa

    from drift import DatasetReport, DriftPolicy, Profile

EXIT_DRIFT = 3
DEFAULT_BINS = 10
DEFAULT_MIN_SAMPLE = 30
WORKERS = min(4, os.cpu_count() or 1)


def thresholds() -> tuple[str, ...]:
    """Every threshold the registered tests read: what a config may set."""
    from drift.stattests import THRESHOLDS

    return tuple(THRESHOLDS)


@dataclass(frozen=True)
class ColumnConfig:
    kind: str | None = None
    bins: int | None = None
    ignore: bool = False
    tests: tuple[str, ...] | None = None
    thresholds: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class DetectConfig:
    alpha: float = 0.05
    dataset_share: float = 0.5
    #: PSI bins for every column (``None``: not set, the default of 10).
    bins: int | None = None
    #: rows each side needs before a column is tested (fewer: ``insufficient_data``)
    min_sample: int = DEFAULT_MIN_SAMPLE
    thresholds: dict[str, float] = field(default_factory=dict)
    columns: dict[str, ColumnConfig] = field(default_factory=dict)
    source: Path | None = None

    def column(self, name: str) -> ColumnConfig:
        return self.columns.get(name, ColumnConfig())

    def where(self, name: str) -> str:
        """Where a column's settings live, for error messages."""
        return f"{self.source or '--config'}: [columns.{name}]"

    def policy(self, names: list[str]) -> DriftPolicy:
        """The drift policy for these columns (per-column overrides on top of defaults)."""
        from drift import DriftPolicy, FeaturePolicy

        default = FeaturePolicy(**self.thresholds)
        features = {}
        for name in names:
            column = self.column(name)
            if column.tests is not None or column.thresholds:
                features[name] = FeaturePolicy(tests=column.tests,
                                               **{**self.thresholds, **column.thresholds})
        return DriftPolicy(self.alpha, self.dataset_share, default, features, self.min_sample)


def single_threaded_blas() -> None:
    """Ask OpenBLAS for one thread, unless the user chose, before numpy loads.

    The batch commands do no linear algebra; OpenBLAS would still start a thread per core
    at import, costing ~0.08 s of a half-second run and spinning on the other cores.
    """
    if "numpy" not in sys.modules:
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def load_config(path: Path | None) -> DetectConfig:
    """Read and validate the TOML config; every mistake is a one-line BadInput."""
    if path is None:
        return DetectConfig()
    import tomllib

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInput(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise BadInput(f"{path}: not valid TOML: {error}") from None
    names = thresholds()
    _only_keys(path, data, {"alpha", "dataset_share", "bins", "min_sample", *names, "columns"},
               "the top level")
    columns_table = data.get("columns", {})
    if not isinstance(columns_table, dict):
        raise BadInput(f"{path}: 'columns' must be a table of [columns.NAME] sections")
    columns = {name: _column_config(path, name, body) for name, body in columns_table.items()}
    config = DetectConfig(
        alpha=_number(path, data, "alpha", "the top level", 0.05),
        dataset_share=_number(path, data, "dataset_share", "the top level", 0.5),
        bins=_bins(path, data, "the top level"),
        min_sample=_min_sample(path, data),
        thresholds={
            k: _number(path, data, k, "the top level", 0.0) for k in names if k in data
        },
        columns=columns,
        source=path,
    )
    try:  # let the drift core judge the values, and say where they came from
        config.policy(list(columns))
    except ValueError as error:
        raise BadInput(f"{path}: {error}") from None
    return config


def _column_config(path: Path, name: str, body: Any) -> ColumnConfig:
    where = f"[columns.{name}]"
    if not isinstance(body, dict):
        raise BadInput(f"{path}: {where} must be a table")
    names = thresholds()
    _only_keys(path, body, {"kind", "tests", "bins", "ignore", *names}, where)
    kind = body.get("kind")
    if kind not in (None, "numeric", "categorical"):
        raise BadInput(f"{path}: {where} kind must be \"numeric\" or \"categorical\", got {kind!r}")
    tests = body.get("tests")
    if tests is not None and (
        not isinstance(tests, list) or not all(isinstance(t, str) for t in tests)
    ):
        raise BadInput(f"{path}: {where} tests must be a list of test names")
    ignore = body.get("ignore", False)
    if not isinstance(ignore, bool):
        raise BadInput(f"{path}: {where} ignore must be true or false")
    return ColumnConfig(
        kind=kind,
        bins=_bins(path, body, where),
        ignore=ignore,
        tests=None if tests is None else tuple(tests),
        thresholds={k: _number(path, body, k, where, 0.0) for k in names if k in body},
    )


def _only_keys(path: Path, data: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise BadInput(f"{path}: unknown key '{unknown[0]}' in {where}")


def _number(path: Path, data: dict[str, Any], key: str, where: str, default: float) -> float:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadInput(f"{path}: {key} in {where} must be a number")
    return float(value)


def _min_sample(path: Path, data: dict[str, Any]) -> int:
    value = data.get("min_sample", DEFAULT_MIN_SAMPLE)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise BadInput(f"{path}: min_sample in the top level must be an integer >= 1")
    return value


def _bins(path: Path, data: dict[str, Any], where: str) -> int | None:
    value = data.get("bins")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 2 <= value <= 1000:
        raise BadInput(f"{path}: bins in {where} must be an integer from 2 to 1000")
    return value


@dataclass(frozen=True)
class Side:
    """One input: a data table, or saved profiles (reference only)."""

    path: Path
    table: pa.Table | None = None
    profiles: dict[str, Profile] | None = None

    @property
    def columns(self) -> list[str]:
        if self.profiles is not None:
            return list(self.profiles)
        assert self.table is not None
        return list(self.table.column_names)


def read_reference(path: Path) -> Side:
    from cli.tabular import detect_format, read_table

    if detect_format(path) != "profile":
        return Side(path, table=read_table(path))
    from drift import profiles_from_dict

    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        profiles = profiles_from_dict(document)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, ValueError) as error:
        raise BadInput(f"{path}: not a valid profile: {error}") from None
    if not profiles:
        raise BadInput(f"{path}: the profile has no features")
    return Side(path, profiles=profiles)


def resolve_kind(name: str, reference: Side, current: Side | None, config: DetectConfig) -> str:
    """The column's kind: config, else the profile's, else inferred from the data."""
    from cli.tabular import infer_kind

    wanted = config.column(name).kind
    if reference.profiles is not None:
        saved = reference.profiles[name].kind
        if wanted is not None and wanted != saved:
            raise BadInput(f"{config.where(name)} kind {wanted} contradicts "
                           f"{reference.path}, where column '{name}' is {saved}")
        ref_kind: str | None = saved
    else:
        assert reference.table is not None
        ref_kind = infer_kind(reference.path, name, reference.table.column(name))
    if wanted is not None:
        return wanted
    cur_kind = None
    if current is not None and current.table is not None:
        cur_kind = infer_kind(current.path, name, current.table.column(name))
    if ref_kind and cur_kind and ref_kind != cur_kind:
        assert current is not None
        raise BadInput(f"column '{name}' is {_word(ref_kind)} in {reference.path} but "
                       f"{_word(cur_kind)} in {current.path} (set its kind in --config to compare)")
    return ref_kind or cur_kind or "categorical"


def _word(kind: str) -> str:
    return "numeric" if kind == "numeric" else "text"


def column_values(side: Side, name: str, kind: str) -> Any:
    from cli.tabular import categorical_counts, numeric_values

    assert side.table is not None
    column = side.table.column(name)
    if kind == "numeric":
        return numeric_values(side.path, name, column)
    return categorical_counts(column)


def build_profiles(side: Side, names: list[str], kinds: dict[str, str], config: DetectConfig,
                   exact_limit: int | None) -> dict[str, Profile]:
    from concurrent.futures import ThreadPoolExecutor

    from drift import build_profile

    def one(name: str) -> Profile:
        bins = config.column(name).bins or config.bins or DEFAULT_BINS
        values = column_values(side, name, kinds[name])
        return build_profile(values, kinds[name], bins=bins,  # type: ignore[arg-type]
                             exact_limit=exact_limit)

    # Sorting dominates and releases the GIL, so columns profile side by side.
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        return dict(zip(names, pool.map(one, names), strict=True))


def run_detect(reference_path: Path, current_path: Path, config: DetectConfig,
               inputs: dict[str, Any] | None = None) -> DatasetReport:
    """Everything ``detect`` does short of printing, for tests and the benchmark.

    A reference column the current file lacks is reported ``absent`` (drifted, high); a
    current column the reference lacks is listed in ``new_features``. ``inputs``, when
    given, receives what was compared (``profiles``, ``values``, ``policy``), for the HTML
    report's charts.
    """
    from dataclasses import replace

    from cli.tabular import read_table
    from drift import compare

    reference = read_reference(reference_path)
    current = Side(current_path, table=read_table(current_path))
    in_current = set(current.columns)
    in_reference = set(reference.columns)
    if not in_current & in_reference:
        raise BadInput(f"{reference_path} and {current_path} have no column in common")
    for name, column in config.columns.items():
        if name not in in_reference and not column.ignore:
            raise BadInput(f"{config.where(name)}: column '{name}' is not in both "
                           f"{reference_path} and {current_path}")
    names = [name for name in reference.columns if not config.column(name).ignore]
    if not names:
        raise BadInput("every common column is ignored by --config; nothing to compare")
    kinds = {name: resolve_kind(name, reference, current if name in in_current else None, config)
             for name in names}
    policy = config.policy(names)
    for name in names:
        try:
            policy.for_feature(name).tests_for(kinds[name])  # type: ignore[arg-type]
        except ValueError as error:
            raise BadInput(f"{config.where(name)}: {error}") from None
    if reference.profiles is not None:
        for name in names:
            bins = config.column(name).bins or config.bins
            saved = getattr(reference.profiles[name], "bins", None)
            if bins is not None and saved is not None and saved != bins:
                raise BadInput(f"{config.source}: bins {bins} for column '{name}' cannot "
                               f"change {reference_path}, profiled with {saved} bins")
        profiles = {name: reference.profiles[name] for name in names}
    else:
        # In memory, so keep every value: KS stays exact however large the file.
        profiles = build_profiles(reference, names, kinds, config, exact_limit=None)
    values = {name: column_values(current, name, kinds[name]) for name in names
              if name in in_current}
    new = tuple(name for name in current.columns
                if name not in in_reference and not config.column(name).ignore)
    if inputs is not None:
        inputs.update(profiles=profiles, values=values, policy=policy)
    try:
        return replace(compare(profiles, values, policy, workers=WORKERS), new_features=new)
    except ValueError as error:
        raise BadInput(f"{current_path}: {error}") from None


@click.command(name="detect")
@click.option("--reference", "reference", required=True, type=click.Path(path_type=Path),
              help="Reference data (CSV, Parquet) or a profile from `driftline profile`.")
@click.option("--current", "current", required=True, type=click.Path(path_type=Path),
              help="Current data (CSV or Parquet).")
@click.option("--config", "config_path", type=click.Path(path_type=Path), default=None,
              help="TOML file: kinds, tests, bins and thresholds per column; alpha.")
@click.option("--format", "output", type=click.Choice(["text", "json", "html"]), default="text",
              show_default=True,
              help="Report format: a table, JSON, or one self-contained HTML file with a chart "
                   "per column.")
@click.option("--out", "out", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Write the report to this file instead of stdout.")
@click.option("--fail-on-drift", is_flag=True,
              help=f"Exit with status {EXIT_DRIFT} when the dataset drifted or a reference "
                   "column is absent from the current data.")
def detect(reference: Path, current: Path, config_path: Path | None, output: str,
           out: Path | None, fail_on_drift: bool) -> None:
    """Compare CURRENT data with a REFERENCE and report drift per column.

    Every test in the registry runs where it applies (KS or chi², PSI, Wasserstein or
    Jensen–Shannon, the missing share); a column the current data lacks is drifted (high),
    one only the current data has is listed as new, and a column with fewer than
    ``min_sample`` rows (30) on a side is reported as too small to test.
    """
    from cli.report_output import html_report, write_report

    single_threaded_blas()
    inputs: dict[str, Any] = {}
    report = run_detect(reference, current, load_config(config_path), inputs)
    if output == "json":
        text = json.dumps(report.to_dict(), allow_nan=False)
    elif output == "html":
        text = html_report(report, inputs, reference, current)
    else:
        from cli.detect_text import format_text

        text = format_text(report)
    write_report(text, out)
    # a column the current data lacks breaks whatever reads it: a gate fails on it alone
    if fail_on_drift and (report.dataset_drift
                          or any(f.status == "absent" for f in report.features)):
        raise click.exceptions.Exit(EXIT_DRIFT)

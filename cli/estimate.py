"""``driftline estimate``: a model's performance on data without labels, from a labelled
reference.

    driftline estimate --reference REF --current CUR --target COL --prediction COL
        --proba COL [--proba COL ...] [--positive-label L] [--metrics a,b]
        [--format json|text] [--fail-on-alert]

Binary classifiers: one ``--proba`` column, the probability of the positive class (the
larger label unless ``--positive-label``). Multiclass: ``--proba CLASS=COLUMN`` once per
class. Regressors: no ``--proba``. The reference needs the target; the current file does
not. Classifiers are estimated by CBPE on probabilities calibrated (isotonic, per class) on
the reference, regressors by direct loss estimation (a gradient-boosting model of the loss
from the features and the prediction). A metric alerts by the stream's rule: worse than the
reference by more than ``PERFORMANCE__BAND_SIGMAS`` (3) standard errors at the current
file's size *and* by ``PERFORMANCE__MIN_DROP`` (0.01). Exit 3 with ``--fail-on-alert`` when
one does, 2 on bad input.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from cli.detect import single_threaded_blas
from cli.errors import BadInput

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

EXIT_ALERT = 3
CLASSIFICATION = ("accuracy", "precision", "recall", "f1", "roc_auc")
REGRESSION = ("mae", "rmse")


@dataclass(frozen=True)
class Task:
    """What is being estimated: the problem, its classes and where their columns are."""

    problem: str  # "binary", "multiclass" or "regression"
    classes: tuple[str, ...] = ()
    proba: tuple[str, ...] = ()  # one column per class, in ``classes`` order (binary: 1)
    positive: str | None = None


def label_text(value: Any) -> str | None:
    """A label as text: whole numbers without a decimal point, so 1 and 1.0 are one class."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _column(table: pa.Table, path: Path, name: str) -> pa.ChunkedArray:
    if name not in table.column_names:
        raise BadInput(f"{path}: no column '{name}' (columns: {', '.join(table.column_names)})")
    return table.column(name)


def _labels(table: pa.Table, path: Path, name: str) -> list[str | None]:
    return [label_text(v) for v in _column(table, path, name).to_pylist()]


def _numbers(table: pa.Table, path: Path, name: str) -> np.ndarray:
    from cli.tabular import numeric_values

    return numeric_values(path, name, _column(table, path, name))


def _probabilities(table: pa.Table, path: Path, task: Task) -> np.ndarray:
    import numpy as np

    columns = [_numbers(table, path, name) for name in task.proba]
    for name, values in zip(task.proba, columns, strict=True):
        if np.isnan(values).any():
            raise BadInput(f"{path}: column '{name}' has missing or non-numeric probabilities")
        if values.min() < 0.0 or values.max() > 1.0:
            raise BadInput(f"{path}: column '{name}' has probabilities outside [0, 1]")
    return np.column_stack(columns)


def resolve_task(reference: pa.Table, path: Path, target: str, prediction: str,
                 proba: tuple[str, ...], positive_label: str | None) -> Task:
    if not proba:
        if positive_label is not None:
            raise BadInput("--positive-label is for binary classifiers (one --proba column)")
        return Task("regression")
    pairs = [item.partition("=") for item in proba]
    if any(sep for _, sep, _ in pairs):
        if not all(sep and cls and col for cls, sep, col in pairs):
            raise BadInput("multiclass models take --proba CLASS=COLUMN for every class")
        if positive_label is not None:
            raise BadInput("--positive-label is for binary classifiers (one --proba column)")
        classes = tuple(cls for cls, _, _ in pairs)
        if len(set(classes)) != len(classes) or len(classes) < 2:
            raise BadInput("--proba CLASS=COLUMN needs two or more distinct classes")
        return Task("multiclass", classes, tuple(col for _, _, col in pairs))
    if len(proba) > 1:
        raise BadInput("binary models take one --proba column (the positive class's "
                       "probability); multiclass models take --proba CLASS=COLUMN per class")
    seen = sorted({v for v in _labels(reference, path, target) if v is not None}
                  | {v for v in _labels(reference, path, prediction) if v is not None},
                  key=_label_order)
    if positive_label is not None and positive_label not in seen:
        seen = sorted({*seen, positive_label}, key=_label_order)
    if len(seen) > 2:
        raise BadInput(f"{path}: '{target}' has {len(seen)} classes ({', '.join(seen[:6])}); "
                       "pass --proba CLASS=COLUMN for each class of a multiclass model")
    if len(seen) < 2 and positive_label is None:
        raise BadInput(f"{path}: '{target}' has a single class; pass --positive-label")
    positive = positive_label if positive_label is not None else seen[-1]
    negative = next((c for c in seen if c != positive), f"not {positive}")
    return Task("binary", (negative, positive), (proba[0],), positive)


def _label_order(label: str) -> tuple[int, float, str]:
    """Numbers in numeric order ("9" before "10"), then text."""
    try:
        return (0, float(label), label)
    except ValueError:
        return (1, 0.0, label)


def _class_index(labels: list[str | None], task: Task, path: Path, name: str) -> np.ndarray:
    import numpy as np

    index = {c: i for i, c in enumerate(task.classes)}
    unknown = sorted({v for v in labels if v not in index}, key=lambda v: str(v))
    if unknown:
        shown = ", ".join("missing" if v is None else repr(v) for v in unknown[:5])
        raise BadInput(f"{path}: column '{name}' has values that are not classes "
                       f"{list(task.classes)}: {shown}")
    return np.array([index[v] for v in labels], dtype=np.int64)  # type: ignore[index]


def _metrics(option: str | None, task: Task) -> tuple[str, ...]:
    allowed = REGRESSION if task.problem == "regression" else CLASSIFICATION
    if option is None:
        return allowed
    wanted = tuple(m.strip().lower() for m in option.split(",") if m.strip())
    wrong = [m for m in wanted if m not in allowed]
    if not wanted or wrong:
        raise BadInput(f"--metrics: {', '.join(wrong) or 'none given'} not among "
                       f"{', '.join(allowed)} for a {task.problem} model")
    return wanted


def run_estimate(reference_path: Path, current_path: Path, target: str, prediction: str,
                 proba: tuple[str, ...], positive_label: str | None, metrics: str | None,
                 min_drop: float, sigmas: float) -> dict[str, Any]:
    """Everything ``estimate`` does short of printing: the JSON document."""
    import numpy as np

    from cli.tabular import read_table
    from drift.performance import DropRule

    reference = read_table(reference_path)
    current = read_table(current_path)
    _column(reference, reference_path, target)
    _column(reference, reference_path, prediction)
    _column(current, current_path, prediction)
    task = resolve_task(reference, reference_path, target, prediction, proba, positive_label)
    wanted = _metrics(metrics, task)
    labelled = np.array([v is not None for v in _labels(reference, reference_path, target)])
    if not labelled.any():
        raise BadInput(f"{reference_path}: the target '{target}' has no values")
    if not labelled.all():
        click.echo(f"driftline: note: {int((~labelled).sum())} reference rows without a "
                   f"target are left out", err=True)
        reference = reference.filter(labelled)
    rule = DropRule(sigmas=sigmas, min_drop=min_drop)
    if task.problem == "regression":
        estimates, baseline, calibration = _regression(reference, reference_path, current,
                                                       current_path, target, prediction, wanted)
    else:
        estimates, baseline, calibration = _classification(
            reference, reference_path, current, current_path, target, prediction, task, wanted)
    out: dict[str, Any] = {}
    for name in wanted:
        if name not in estimates:
            continue
        est = estimates[name]
        ref = baseline.values[name]
        judged = rule.judge(name, est.value, ref, baseline.spread.get(name, 0.0))
        out[name] = {"estimate": est.value, "lower": est.lower, "upper": est.upper,
                     "reference": ref, "alert": judged.dropped}
    return {"problem": task.problem, "rows": current.num_rows, "metrics": out,
            "calibration": calibration}


def _classification(reference: pa.Table, reference_path: Path, current: pa.Table,
                    current_path: Path, target: str, prediction: str, task: Task,
                    wanted: tuple[str, ...]) -> tuple[Any, Any, dict[str, Any]]:
    from drift.estimation import classification_baseline, estimate_classification, fit_calibration

    ref_proba = _probabilities(reference, reference_path, task)
    cur_proba = _probabilities(current, current_path, task)
    labels = _class_index(_labels(reference, reference_path, target), task, reference_path,
                          target)
    ref_pred = _class_index(_labels(reference, reference_path, prediction), task,
                            reference_path, prediction)
    cur_pred = _class_index(_labels(current, current_path, prediction), task, current_path,
                            prediction)
    positive = 1 if task.problem == "binary" else None
    raw_ref = ref_proba[:, 0] if positive is not None else ref_proba
    calibration = fit_calibration(raw_ref, [task.classes[i] for i in labels], task.classes,
                                  task.positive)
    raw_cur = cur_proba[:, 0] if positive is not None else cur_proba
    calibrated = calibration.apply(raw_cur)
    # ROC AUC judges the order of the model's own scores
    estimates = estimate_classification(calibrated, cur_pred, _as_matrix(raw_cur, task),
                                        positive, wanted)
    baseline = classification_baseline(labels, ref_pred, raw_ref, len(task.classes), positive,
                                       size=current.num_rows, metrics=wanted)
    return estimates, baseline, {"method": "isotonic", "reference_rows": reference.num_rows,
                                 "classes": list(task.classes), "positive": task.positive}


def _as_matrix(raw: np.ndarray, task: Task) -> np.ndarray:
    import numpy as np

    return np.column_stack([1.0 - raw, raw]) if task.problem == "binary" else raw


def _regression(reference: pa.Table, reference_path: Path, current: pa.Table,
                current_path: Path, target: str, prediction: str,
                wanted: tuple[str, ...]) -> tuple[Any, Any, dict[str, Any]]:
    import numpy as np

    from cli.tabular import infer_kind
    from drift.estimation import estimate_regression, fit_loss_model, regression_baseline

    y = _numbers(reference, reference_path, target)
    ref_pred = _numbers(reference, reference_path, prediction)
    cur_pred = _numbers(current, current_path, prediction)
    for path, values, name in ((reference_path, ref_pred, prediction),
                               (current_path, cur_pred, prediction),
                               (reference_path, y, target)):
        if np.isnan(values).any():
            raise BadInput(f"{path}: column '{name}' has missing or non-numeric values")
    names = [n for n in reference.column_names if n not in (target, prediction)]
    missing = [n for n in names if n not in current.column_names]
    if missing:
        raise BadInput(f"{current_path}: no column {', '.join(repr(n) for n in missing)} "
                       f"(the loss model reads every reference column but the target)")
    kinds = {n: infer_kind(reference_path, n, reference.column(n)) or "numeric" for n in names}
    categorical = [n for n in names if kinds[n] == "categorical"]

    def features(table: pa.Table, path: Path) -> dict[str, Any]:
        return {n: _labels(table, path, n) if kinds[n] == "categorical"
                else _numbers(table, path, n) for n in names}

    try:
        model = fit_loss_model(features(reference, reference_path), categorical, ref_pred, y)
    except ValueError as error:
        raise BadInput(f"{reference_path}: {error}") from None
    estimates = estimate_regression(model, features(current, current_path), cur_pred, wanted)
    baseline = regression_baseline(y, ref_pred, size=current.num_rows, metrics=wanted)
    return estimates, baseline, {"method": "dle", "reference_rows": reference.num_rows,
                                 "model": "gradient-boosted trees on features and prediction",
                                 "features": names}


def format_text(document: dict[str, Any]) -> str:
    rows = [("metric", "estimate", "95% interval", "reference", "alert")]
    for name, m in document["metrics"].items():
        rows.append((name, f"{m['estimate']:.4f}", f"{m['lower']:.4f} – {m['upper']:.4f}",
                     f"{m['reference']:.4f}", "DROP" if m["alert"] else "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    cal = document["calibration"]
    how = ("CBPE, isotonic calibration" if cal["method"] == "isotonic"
           else "direct loss estimation")
    alerts = [name for name, m in document["metrics"].items() if m["alert"]]
    lines += ["", f"{document['problem']} model, {document['rows']} rows without labels; "
              f"{how} on {cal['reference_rows']} labelled reference rows",
              f"estimated drop: {', '.join(alerts)}" if alerts else "no estimated drop"]
    return "\n".join(lines)


@click.command(name="estimate")
@click.option("--reference", "reference", required=True, type=click.Path(path_type=Path),
              help="Labelled reference (CSV or Parquet): target, prediction, probabilities.")
@click.option("--current", "current", required=True, type=click.Path(path_type=Path),
              help="Current data without labels (CSV or Parquet).")
@click.option("--target", required=True, help="The label column of the reference.")
@click.option("--prediction", required=True, help="The model's prediction column.")
@click.option("--proba", multiple=True,
              help="Binary: the positive class's probability column. Multiclass: "
                   "CLASS=COLUMN, once per class. Regression: leave out.")
@click.option("--positive-label", default=None,
              help="Binary: the positive class (default: the larger label).")
@click.option("--metrics", default=None,
              help="Comma-separated: accuracy,precision,recall,f1,roc_auc or mae,rmse.")
@click.option("--format", "output", type=click.Choice(["json", "text"]), default="text",
              show_default=True)
@click.option("--fail-on-alert", is_flag=True,
              help=f"Exit with status {EXIT_ALERT} when an estimated metric dropped.")
def estimate(reference: Path, current: Path, target: str, prediction: str,
             proba: tuple[str, ...], positive_label: str | None, metrics: str | None,
             output: str, fail_on_alert: bool) -> None:
    """Estimate a model's performance on CURRENT data without labels."""
    single_threaded_blas()
    from cli.settings_util import load_settings

    performance = load_settings().performance
    document = run_estimate(reference, current, target, prediction, proba, positive_label,
                            metrics, performance.min_drop, performance.band_sigmas)
    click.echo(json.dumps(document, allow_nan=False) if output == "json"
               else format_text(document))
    if fail_on_alert and any(m["alert"] for m in document["metrics"].values()):
        raise click.exceptions.Exit(EXIT_ALERT)

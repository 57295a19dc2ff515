"""The reference model: labelled production rows in, a scikit-learn pipeline out.

Rows carry features as a JSON object, so the pipeline starts with a ``DictVectorizer``: string
values are one-hot encoded, numbers pass through, missing values (None) are left out. A label
column of strings or booleans (or a handful of integers) makes a classifier (logistic
regression); otherwise a regressor (histogram gradient boosting).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MaxAbsScaler

from drift.performance import regression_metrics

#: how models are stored: cloudpickle loads with mlflow-skinny's own dependencies (skops, MLflow's
#: default, would need skops and pandas in every process that loads a model)
SERIALIZATION = "cloudpickle"
#: integer labels with at most this many distinct values are classes, not quantities
MAX_INTEGER_CLASSES = 20


def label_text(value: Any) -> str:
    """A class label as text (the same value reads the same from JSON, CSV or a model)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def infer_task(labels: Sequence[Any]) -> str:
    """``classification`` or ``regression`` from the label values."""
    present = [v for v in labels if v is not None]
    if not present:
        raise ValueError("no labels")
    if any(isinstance(v, str | bool) for v in present):
        return "classification"
    integral = all(isinstance(v, int) or (isinstance(v, float) and v.is_integer()) for v in present)
    if integral and len({label_text(v) for v in present}) <= MAX_INTEGER_CLASSES:
        return "classification"
    return "regression"


def feature_dicts(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Feature objects as the vectorizer takes them: None dropped, booleans as categories."""
    out = []
    for features in rows:
        clean: dict[str, Any] = {}
        for name, value in features.items():
            if value is None or (isinstance(value, float) and not math.isfinite(value)):
                continue
            clean[name] = label_text(value) if isinstance(value, bool) else value
        out.append(clean)
    return out


def targets(labels: Sequence[Any], task: str) -> np.ndarray:
    if task == "classification":
        return np.array([label_text(v) for v in labels], dtype=object)
    return np.array([float(v) for v in labels], dtype=np.float64)


def build_pipeline(task: str, seed: int = 0) -> Pipeline:
    if task == "classification":
        return Pipeline([("vectorize", DictVectorizer(sparse=True)), ("scale", MaxAbsScaler()),
                         ("model", LogisticRegression(max_iter=2000, random_state=seed))])
    return Pipeline([("vectorize", DictVectorizer(sparse=False)),
                     ("model", HistGradientBoostingRegressor(max_iter=100, random_state=seed))])


@dataclass(frozen=True)
class FitResult:
    model: Pipeline
    task: str
    n_train: int
    metrics: dict[str, float]
    classes: tuple[str, ...] = ()


def fit(features: Sequence[Mapping[str, Any]], labels: Sequence[Any], *, seed: int = 0) -> FitResult:
    """Fit the reference pipeline; ``ValueError`` when the data cannot train a model."""
    if len(features) != len(labels):
        raise ValueError("features and labels differ in length")
    keep = [i for i, v in enumerate(labels) if v is not None]
    if len(keep) < 2:
        raise ValueError(f"{len(keep)} labelled row(s); at least 2 are needed")
    x = feature_dicts(features[i] for i in keep)
    raw = [labels[i] for i in keep]
    task = infer_task(raw)
    y = targets(raw, task)
    if task == "classification" and len(set(y)) < 2:
        raise ValueError(f"every label is {y[0]!r}: a classifier needs two classes at least")
    model = build_pipeline(task, seed).fit(x, y)
    predicted = model.predict(x)
    if task == "classification":
        metrics = {"train_accuracy": float(np.mean(predicted == y))}
        classes = tuple(str(c) for c in model.classes_)
    else:
        metrics = {f"train_{name}": value for name, value in regression_metrics(y, predicted).items()}
        classes = ()
    return FitResult(model=model, task=task, n_train=len(keep), metrics=metrics, classes=classes)


def pip_requirements() -> list[str]:
    """What loading the model needs, stated (MLflow's inference would shell out to ``uv``)."""
    import sklearn

    return [f"scikit-learn=={sklearn.__version__}", f"numpy>={np.__version__.split('.')[0]}"]


def feature_kinds(rows: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Per feature: ``numeric`` when every present value is a number, else ``categorical``."""
    kinds: dict[str, str] = {}
    for features in rows:
        for name, value in features.items():
            if value is None:
                kinds.setdefault(name, "numeric")
                continue
            numeric = isinstance(value, int | float) and not isinstance(value, bool)
            if not numeric:
                kinds[name] = "categorical"
            else:
                kinds.setdefault(name, "numeric")
    return kinds


def feature_columns(rows: Sequence[Mapping[str, Any]], kinds: Mapping[str, str]) -> dict[str, Any]:
    """Columns as :func:`drift.compare` takes them: float arrays (NaN missing) or text lists."""
    columns: dict[str, Any] = {}
    for name, kind in kinds.items():
        values = [features.get(name) for features in rows]
        if kind == "numeric":
            columns[name] = np.array([v if isinstance(v, int | float) and not isinstance(v, bool)
                                      else np.nan for v in values], dtype=np.float64)
        else:
            columns[name] = [None if v is None else label_text(v) for v in values]
    return columns


def training_profiles(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The drift profiles of the training data (``drift.profiles_to_dict`` document)."""
    import drift

    kinds = feature_kinds(rows)
    columns = feature_columns(rows, kinds)
    profiles = {name: drift.build_profile(columns[name], kind)  # type: ignore[arg-type]
                for name, kind in kinds.items()}
    return drift.profiles_to_dict(profiles)

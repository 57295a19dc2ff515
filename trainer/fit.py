"""The reference model: labelled production rows in, a scikit-learn pipeline out (the rows are
shaped by :mod:`governance.modelinputs`, which the worker shares without scikit-learn).

Rows carry features as a JSON object, so the pipeline starts with a ``DictVectorizer``: string
values are one-hot encoded, numbers pass through, missing values (None) are left out. A label
column of strings or booleans (or a handful of integers) makes a classifier (logistic
regression); otherwise a regressor (histogram gradient boosting).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MaxAbsScaler

from drift.performance import regression_metrics
from governance.modelinputs import feature_dicts, infer_task, targets

#: how models are stored: cloudpickle loads with mlflow-skinny's own dependencies (skops, MLflow's
#: default, would need skops and pandas in every process that loads a model)
SERIALIZATION = "cloudpickle"


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



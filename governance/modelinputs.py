"""Labelled production rows as model inputs and as drift columns — shared by the reference
trainer and the promotion agent, without scikit-learn (the loop imports this, not the trainer).

A row's features are a JSON object: numbers pass through, strings are categories, booleans are
categories "true"/"false", None (missing) and non-finite numbers are left out.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

#: the MLflow artifact under which the trainer logs the drift profiles of its training data;
#: the promotion agent compares production traffic with it
PROFILE_ARTIFACT = "training_profile.json"
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


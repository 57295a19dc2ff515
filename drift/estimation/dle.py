"""Direct loss estimation (DLE): a regressor's MAE and RMSE without labels.

On the labelled reference a small gradient-boosting model (scikit-learn's
``HistGradientBoostingRegressor``) learns the expected absolute error from the features and
the prediction, and a second one the expected squared error. On a window without targets the
estimated MAE is the mean predicted absolute error and the estimated RMSE the square root of
the mean predicted squared error. The interval is the reference's scatter of the realized
loss around the model's expectation, at the window's size (normal approximation; RMSE by the
delta method). NannyML's DLE does the same with LightGBM.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from drift.estimation.cbpe import Estimate
from drift.estimation.metrics import REGRESSION_METRICS, FloatArray

Z_95 = 1.959963984540054


@dataclass(frozen=True)
class LossModel:
    """The fitted loss models and how to turn a table into their inputs."""

    columns: tuple[str, ...]
    #: categorical columns: category -> code, fixed on the reference (unseen -> missing)
    categories: Mapping[str, Mapping[str, int]]
    absolute: Any
    squared: Any
    #: standard deviation of (realized − expected) loss per row on the reference
    absolute_sd: float
    squared_sd: float
    reference_rows: int

    def design(self, features: Mapping[str, Any], predictions: FloatArray) -> FloatArray:
        columns = []
        for name in self.columns:
            values = features[name]
            if name in self.categories:
                codes = self.categories[name]
                columns.append(np.array([np.nan if v is None else codes.get(str(v), np.nan)
                                         for v in values], dtype=np.float64))
            else:
                columns.append(np.asarray(values, dtype=np.float64))
        columns.append(np.asarray(predictions, dtype=np.float64))
        return np.column_stack(columns)


def _regressor(categorical: Sequence[bool]) -> Any:
    from sklearn.ensemble import HistGradientBoostingRegressor

    return HistGradientBoostingRegressor(max_iter=60, learning_rate=0.1, max_leaf_nodes=15,
                                         min_samples_leaf=20, early_stopping=False,
                                         categorical_features=list(categorical) or None,
                                         random_state=0)


def fit_loss_model(features: Mapping[str, Any], categorical: Sequence[str],
                   predictions: FloatArray, targets: FloatArray) -> LossModel:
    """Fit the loss models on a labelled reference (``features``: name -> values)."""
    targets = np.asarray(targets, dtype=np.float64)
    predictions = np.asarray(predictions, dtype=np.float64)
    if targets.size < 20:
        raise ValueError("direct loss estimation needs at least 20 labelled reference rows")
    if not (np.all(np.isfinite(targets)) and np.all(np.isfinite(predictions))):
        raise ValueError("targets and predictions must be finite numbers")
    categories = {name: {c: i for i, c in enumerate(sorted(
        {str(v) for v in features[name] if v is not None}))} for name in categorical}
    model = LossModel(tuple(features), categories, None, None, 0.0, 0.0, int(targets.size))
    x = model.design(features, predictions)
    mask = [name in categories for name in model.columns] + [False]
    error = predictions - targets
    absolute = _regressor(mask).fit(x, np.abs(error))
    squared = _regressor(mask).fit(x, error**2)
    return LossModel(model.columns, categories, absolute, squared,
                     float(np.std(np.abs(error) - absolute.predict(x))),
                     float(np.std(error**2 - squared.predict(x))), int(targets.size))


def estimate_regression(model: LossModel, features: Mapping[str, Any], predictions: FloatArray,
                        metrics: Sequence[str] = REGRESSION_METRICS,
                        level: float = 0.95) -> dict[str, Estimate]:
    """Estimated MAE and RMSE of one window."""
    x = model.design(features, predictions)
    n = x.shape[0]
    if n == 0:
        raise ValueError("no rows to estimate on")
    z = Z_95 if level == 0.95 else _z(level)
    out = {}
    if "mae" in metrics:
        mae = float(np.mean(np.clip(model.absolute.predict(x), 0.0, None)))
        half = z * model.absolute_sd / np.sqrt(n)
        out["mae"] = Estimate(mae, max(0.0, mae - half), mae + half)
    if "rmse" in metrics:
        mse = float(np.mean(np.clip(model.squared.predict(x), 0.0, None)))
        rmse = float(np.sqrt(mse))
        half = z * model.squared_sd / np.sqrt(n) / (2 * rmse) if rmse > 0 else 0.0
        out["rmse"] = Estimate(rmse, max(0.0, rmse - half), rmse + half)
    return out


def _z(level: float) -> float:
    from scipy.stats import norm

    return float(norm.ppf(0.5 + level / 2))

"""Model quality without labels: calibration, CBPE for classifiers, DLE for regressors, and
the reference baseline the drop rule judges a window against.

Not imported by ``import drift`` (it loads scikit-learn and scipy when it fits or ranks);
still pure: arrays in, frozen results out, no I/O, no clock, no environment.
"""

from drift.estimation.baseline import Baseline, classification_baseline, regression_baseline
from drift.estimation.calibration import Calibration, fit_calibration
from drift.estimation.cbpe import Estimate, estimate_classification
from drift.estimation.dle import LossModel, estimate_regression, fit_loss_model
from drift.estimation.metrics import CLASSIFICATION_METRICS, HIGHER_IS_BETTER, REGRESSION_METRICS

__all__ = [
    "CLASSIFICATION_METRICS",
    "HIGHER_IS_BETTER",
    "REGRESSION_METRICS",
    "Baseline",
    "Calibration",
    "Estimate",
    "LossModel",
    "classification_baseline",
    "estimate_classification",
    "estimate_regression",
    "fit_calibration",
    "fit_loss_model",
    "regression_baseline",
]

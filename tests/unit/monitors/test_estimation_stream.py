"""Estimation on the stream: calibrated on the first labelled pairs of a version, then an
estimate per window of predictions — and a drop alert before any label of it joined."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from drift.performance import DropRule
from monitors.estimation import EstimationConfig, PerformanceEstimator, PredictionIn
from monitors.performance import PerformanceConfig, PerformanceMonitor
from schemas.events import LabelledPredictionEvent
from tests.unit.monitors.test_drift_monitor import DictStore

T0 = datetime(2026, 11, 1, tzinfo=UTC)
CONFIG = EstimationConfig(window_size=500, calibration_size=2000, rule=DropRule())


def traffic(n: int, scale: float, start: int, seed: int):
    """Predictions of a model whose confidence is overstated (sigmoid of twice the true
    logit), and the labels the world draws; ``scale`` < 1 crowds inputs at the boundary."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0, scale, size=(n, 2))
    p = 1 / (1 + np.exp(-(2.0 * x[:, 0] - 1.0 * x[:, 1])))
    claimed = 1 / (1 + np.exp(-2 * np.log(p / (1 - p))))
    labels = np.where(rng.random(n) < p, "yes", "no")
    rows = []
    for i in range(n):
        when = (T0 + timedelta(seconds=start + i)).isoformat()
        probabilities = {"yes": float(claimed[i]), "no": float(1 - claimed[i])}
        rows.append((start + i, when, "yes" if claimed[i] > 0.5 else "no", probabilities,
                     labels[i]))
    return rows


def labelled(rows):
    return [(offset, LabelledPredictionEvent(
        event_id=str(uuid.UUID(int=offset + 1)), schema_version=1, model_name="m",
        model_version="1", timestamp=when, label_time=when, prediction=prediction,
        label=label, probabilities=probabilities))
        for offset, when, prediction, probabilities, label in rows]


def predictions(rows):
    return [PredictionIn(offset, when, prediction, probabilities)
            for offset, when, prediction, probabilities, _ in rows]


def test_estimates_per_window_track_realized_and_alert_before_labels() -> None:
    store = DictStore()
    performance = PerformanceMonitor(store, PerformanceConfig(window_size=500, estimation=CONFIG))
    estimator = PerformanceEstimator(store, CONFIG)
    reference = traffic(2000, 1.0, 0, 1)
    # predictions of the first rows arrive before any label: nothing can be estimated yet
    early = estimator.apply("m", "1", predictions(reference[:1000]))
    assert early.metrics == []
    for i in range(0, 2000, 250):  # the labels join: the calibration is fitted at 2,000
        performance.apply("m", "1", labelled(reference[i:i + 250]))
    assert store.get(b"qcal|m|1") is not None
    stable = traffic(2000, 1.0, 2000, 2)
    worse = traffic(1500, 0.4, 4000, 3)
    metrics, drops = [], []
    for rows in (stable, worse):
        for i in range(0, len(rows), 250):
            out = estimator.apply("m", "1", predictions(rows[i:i + 250]))
            metrics += out.metrics
            drops += out.drift_events
    accuracy = [m for m in metrics if m.metric == "accuracy"]
    assert all(m.estimated and m.sample_size == 500 for m in accuracy)
    # the estimator's sequence: the 1,000 early predictions (two windows, uncalibrated), then
    # the stable and the crowded ones; compare each estimate with the realized accuracy of
    # the same 500 predictions
    everything = [*reference[:1000], *stable, *worse]
    by_seq = {i: row for i, row in enumerate(everything)}
    errors = []
    for m in accuracy:
        window = [by_seq[s] for s in range(m.window_start_seq, m.window_end_seq)]
        realized = np.mean([row[2] == row[4] for row in window])
        errors.append(abs(m.value - realized))
        assert m.lower <= m.value <= m.upper
    assert np.mean(errors) < 0.025  # a 500-row window's own noise is ~0.02
    fired = [e for e in drops if e.kind == "estimated_performance_drop" and e.alert == "fired"]
    assert {e.feature for e in fired} >= {"accuracy"}
    first = min(e.window_start_seq for e in fired if e.feature == "accuracy")
    assert first == 3000  # the first full window of crowded inputs, with no label joined
    assert all(e.window_start_seq >= 3000 for e in drops)  # no drop while it was stable


def test_a_replayed_batch_is_estimated_once_and_regressors_are_left_alone() -> None:
    store = DictStore()
    performance = PerformanceMonitor(store, PerformanceConfig(window_size=500, estimation=CONFIG))
    performance.apply("m", "1", labelled(traffic(2000, 1.0, 0, 1)))
    estimator = PerformanceEstimator(store, CONFIG)
    batch = predictions(traffic(500, 1.0, 2000, 2))
    first = estimator.apply("m", "1", batch)
    assert len(first.metrics) == 5 and estimator.apply("m", "1", batch).metrics == []
    plain = [PredictionIn(i, T0.isoformat(), 1.5, None) for i in range(600)]
    assert estimator.apply("r", "1", plain).metrics == [] and store.get(b"qeh|r|1") is None


def test_the_calibration_state_is_small() -> None:
    store = DictStore()
    performance = PerformanceMonitor(store, PerformanceConfig(window_size=500, estimation=CONFIG))
    performance.apply("m", "1", labelled(traffic(2000, 1.0, 0, 1)))
    assert len(store.get(b"qcal|m|1")) < 20_000
    assert not [k for k in store.data if k.startswith(b"qkc|")]  # chunks deleted once fitted
    pytest.importorskip("sklearn")


def test_pairs_that_cannot_calibrate_leave_the_version_unestimated_not_dead_lettered() -> None:
    import orjson

    store = DictStore()
    config = EstimationConfig(window_size=500, calibration_size=100)
    performance = PerformanceMonitor(store, PerformanceConfig(window_size=500, estimation=config))
    rows = [(o, w, p, probs, "maybe") for o, w, p, probs, _ in traffic(100, 1.0, 0, 5)]
    performance.apply("m", "1", labelled(rows))  # labels no class of the probabilities names
    head = orjson.loads(store.get(b"qkh|m|1"))
    assert head["done"] and head["failed"] == "calibration needs labelled reference rows"
    assert store.get(b"qcal|m|1") is None

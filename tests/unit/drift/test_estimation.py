"""Performance estimation without labels: CBPE, calibration, DLE, the baseline and the drop
rule. Seeded throughout, so a tolerance is a fixed margin, never a chance to flake."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from drift.estimation import (
    classification_baseline,
    estimate_classification,
    estimate_regression,
    fit_calibration,
    fit_loss_model,
    regression_baseline,
)
from drift.estimation.metrics import classification_batch
from drift.performance import DropRule, classification_metrics


def binary_world(n: int, shift: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """True P(y=1|x) for x shifted by ``shift``, and labels drawn from it."""
    rng = np.random.default_rng(seed)
    x = rng.normal(shift, 1.0, size=(n, 2))
    p = 1 / (1 + np.exp(-(1.8 * x[:, 0] - 0.9 * x[:, 1])))
    return p, (rng.random(n) < p).astype(np.int64)


def _accuracy_error(n: int, seed: int) -> tuple[float, float]:
    p, y = binary_world(n, 0.3, seed)
    q = np.column_stack([1 - p, p])
    predicted = (p > 0.5).astype(np.int64)
    est = estimate_classification(q, predicted, None, 1, ["accuracy"], samples=20, seed=seed)
    realized = float(np.mean(predicted == y))
    # the realized accuracy's own spread around the expectation, given the probabilities
    confidence = np.where(predicted == 1, p, 1 - p)
    return est["accuracy"].value - realized, float(np.sqrt(np.mean(confidence * (1 - confidence))))


def test_the_estimates_error_shrinks_like_one_over_root_n() -> None:
    sizes, replicates = (250, 1000, 4000, 16000), 40
    rms = {}
    for n in sizes:
        errors, theory = zip(*(_accuracy_error(n, 1000 * n + r) for r in range(replicates)),
                             strict=True)
        rms[n] = float(np.sqrt(np.mean(np.square(errors))))
        # √n · error is the per-row spread, whatever n: the error is pure sampling noise
        assert rms[n] * np.sqrt(n) == pytest.approx(np.mean(theory), rel=0.3), n
    assert rms[250] / rms[16000] == pytest.approx(8.0, rel=0.35)


def test_the_interval_covers_the_realized_value() -> None:
    hits = 0
    for seed in range(60):
        p, y = binary_world(2000, 0.0, seed)
        predicted = (p > 0.5).astype(np.int64)
        est = estimate_classification(np.column_stack([1 - p, p]), predicted,
                                      np.column_stack([1 - p, p]), 1, seed=seed)
        realized = classification_metrics(y.astype(str), predicted.astype(str), p,
                                          positive="1")
        hits += all(est[m].lower <= realized[m] <= est[m].upper for m in ("accuracy", "f1"))
    assert hits >= 50  # nominal 95 % each, two metrics: ≈ 90 % jointly


def test_calibration_repairs_an_overconfident_model() -> None:
    p, y = binary_world(40_000, 0.0, 1)
    overconfident = 1 / (1 + np.exp(-2.5 * np.log(p / (1 - p))))
    calibration = fit_calibration(overconfident, y.astype(str), ["0", "1"], positive="1")
    for shift, seed in ((0.0, 2), (0.8, 3), (-0.8, 4)):
        p_cur, y_cur = binary_world(5000, shift, seed)
        raw = 1 / (1 + np.exp(-2.5 * np.log(p_cur / (1 - p_cur))))
        predicted = (raw > 0.5).astype(np.int64)
        q = calibration.apply(raw)
        est = estimate_classification(q, predicted, np.column_stack([1 - raw, raw]), 1)
        naive = float(np.mean(np.where(predicted == 1, raw, 1 - raw)))
        realized = float(np.mean(predicted == y_cur))
        assert abs(est["accuracy"].value - realized) < 0.015, shift
        assert naive - realized > 0.03  # without calibration the estimate would be far off
        auc = skm.roc_auc_score(y_cur, raw)
        assert abs(est["roc_auc"].value - auc) < 0.015


def test_calibration_round_trips_and_rejects_bad_input() -> None:
    p, y = binary_world(2000, 0.0, 5)
    calibration = fit_calibration(p, y.astype(str), ["0", "1"], positive="1")
    again = type(calibration).from_dict(calibration.to_dict())
    assert np.array_equal(again.apply(p), calibration.apply(p))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        fit_calibration(p * 2, y.astype(str), ["0", "1"], positive="1")
    with pytest.raises(ValueError, match="not among the classes"):
        fit_calibration(p, np.full(p.size, "x"), ["0", "1"], positive="1")


def test_multiclass_estimates_match_the_realized_metrics() -> None:
    rng = np.random.default_rng(6)
    n, k = 30_000, 3
    logits = rng.normal(size=(n, k)) * 1.5
    q = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = np.minimum((rng.random((n, 1)) > np.cumsum(q, axis=1)).sum(axis=1), k - 1)
    predicted = q.argmax(axis=1)
    calibration = fit_calibration(q, labels.astype(str), ["0", "1", "2"])
    est = estimate_classification(calibration.apply(q), predicted, q, None)
    ranks = np.column_stack([np.argsort(np.argsort(q[:, c])) + 1.0 for c in range(k)])
    realized = classification_batch(labels[None], predicted[None], ranks[None], k, None)
    for metric in ("accuracy", "precision", "recall", "f1", "roc_auc"):
        assert est[metric].value == pytest.approx(float(realized[metric][0]), abs=0.01), metric
    ovr = skm.roc_auc_score(labels, q, multi_class="ovr", average="macro")
    assert float(realized["roc_auc"][0]) == pytest.approx(ovr, abs=1e-9)


def test_direct_loss_estimation_follows_heteroscedastic_error() -> None:
    rng = np.random.default_rng(7)

    def world(n: int, shift: float) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
        x = rng.normal(shift, 1.0, size=n)
        segment = rng.choice(["a", "b"], size=n)
        noise = (0.2 + np.abs(x)) * np.where(segment == "b", 2.0, 1.0)
        target = 3 * x + rng.normal(0, 1, size=n) * noise
        return {"x": x, "segment": segment.astype(object)}, 3 * x, target

    features, prediction, target = world(8000, 0.0)
    model = fit_loss_model(features, ["segment"], prediction, target)
    for shift in (0.0, 1.0):
        f, pred, y = world(5000, shift)
        est = estimate_regression(model, f, pred)
        mae = float(np.mean(np.abs(pred - y)))
        rmse = float(np.sqrt(np.mean((pred - y) ** 2)))
        assert est["mae"].value == pytest.approx(mae, rel=0.06), shift
        assert est["rmse"].value == pytest.approx(rmse, rel=0.08), shift
    assert estimate_regression(model, world(5000, 1.5)[0], world(5000, 1.5)[1])["mae"].value > \
        1.5 * estimate_regression(model, world(5000, 0.0)[0], world(5000, 0.0)[1])["mae"].value


def test_baseline_spread_is_the_metrics_standard_error_at_the_window_size() -> None:
    p, y = binary_world(20_000, 0.0, 8)
    predicted = (p > 0.5).astype(np.int64)
    for size in (500, 5000):
        baseline = classification_baseline(y, predicted, p, 2, 1, size)
        accuracy = baseline.values["accuracy"]
        assert baseline.spread["accuracy"] == pytest.approx(
            np.sqrt(accuracy * (1 - accuracy) / size), rel=0.15)
        assert baseline.values["roc_auc"] == pytest.approx(skm.roc_auc_score(y, p), abs=1e-12)
    reg = regression_baseline(np.zeros(4000), rng_normal(4000), 400)
    assert reg.spread["mae"] == pytest.approx(np.sqrt(1 - 2 / np.pi) / np.sqrt(400), rel=0.15)


def rng_normal(n: int) -> np.ndarray:
    return np.random.default_rng(9).normal(size=n)


def test_the_drop_rule_is_significant_and_material() -> None:
    rule = DropRule(sigmas=3.0, min_drop=0.01)
    # the loan model of the issue: 0.943 -> 0.915 on 5,000 rows alerts, on noise it does not
    sd_5000 = np.sqrt(0.943 * 0.057 / 5000)
    assert rule.judge("accuracy", 0.915, 0.943, sd_5000).dropped
    assert not rule.judge("accuracy", 0.935, 0.943, sd_5000).dropped
    # a small window: a 3-point dip is within noise
    assert not rule.judge("accuracy", 0.915, 0.943, np.sqrt(0.943 * 0.057 / 200)).dropped
    # huge windows: significance alone is not enough, the minimum effect holds
    tiny = rule.judge("accuracy", 0.937, 0.943, 0.0001)
    assert not tiny.dropped and tiny.threshold == 0.01 and tiny.band == pytest.approx(0.0003)
    big = rule.judge("accuracy", 0.80, 0.943, sd_5000)
    assert big.dropped and big.severity == "high"
    assert rule.judge("rmse", 1.2, 1.0, 0.01).dropped and not rule.judge("rmse", 0.8, 1.0, 0.01).dropped


def test_done_when_on_the_benchmark_case() -> None:
    """Issue 13's "done when" on the benchmark's held-out classifier (bench/estimate): the
    estimated accuracy per 5,000-row chunk is within 0.004 of the realized on average, and
    the estimate alerts exactly on the chunks whose realized accuracy fell."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).parents[3] / "bench" / "estimate" / "make_data.py"
    spec = importlib.util.spec_from_file_location("bench_estimate_data", path)
    assert spec is not None and spec.loader is not None
    make_data = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_data)
    rng = np.random.default_rng(2026)
    reference = make_data.rows(rng, 10 * make_data.CHUNK)
    chunks = [make_data.rows(rng, make_data.CHUNK, **make_data.plan(i)) for i in range(20)]
    calibration = fit_calibration(reference["y_pred_proba"], reference["y_true"].astype(str),
                                  ["0", "1"], positive="1")
    baseline = classification_baseline(reference["y_true"], reference["y_pred"], None, 2, 1,
                                       make_data.CHUNK, ["accuracy"])
    rule = DropRule()
    errors, alerts, fell = [], [], []
    for chunk in chunks:
        q = calibration.apply(chunk["y_pred_proba"])
        est = estimate_classification(q, chunk["y_pred"], None, 1, ["accuracy"])["accuracy"]
        realized = float(np.mean(chunk["y_pred"] == chunk["y_true"]))
        errors.append(abs(est.value - realized))
        ref, sd = baseline.values["accuracy"], baseline.spread["accuracy"]
        alerts.append(rule.judge("accuracy", est.value, ref, sd).dropped)
        fell.append(rule.judge("accuracy", realized, ref, sd).dropped)
    assert np.mean(errors) < 0.004
    assert alerts == fell and sum(fell) == 6

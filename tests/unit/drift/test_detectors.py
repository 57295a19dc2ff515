"""Online detectors calibrated on the reference: within the false-alarm budget on still
features, still quick on material shifts. Seeded streams: golden counts, not chances."""

from __future__ import annotations

import math
import pickle
import zlib

import numpy as np
import pytest
from river import drift as river_drift

from drift import detectors
from drift.detectors import DETECTORS, OnlineDetectors, calibrate_page_hinkley

STILL = {
    "normal": lambda rng, n: rng.normal(50, 10, n),
    "lognormal": lambda rng, n: rng.lognormal(10, 0.8, n),
    "counts": lambda rng, n: rng.poisson(2, n).astype(float),
}


def calibrated(kind: str, seed: int = 0) -> OnlineDetectors:
    rng = np.random.default_rng(seed)
    reference = STILL[kind](rng, 1000)  # the stream's default reference size
    return OnlineDetectors(["page_hinkley", "adwin"], {"x": (reference.mean(), reference.std())},
                           {"x": reference}, budget_per_100k=1.0)


@pytest.mark.parametrize("kind", sorted(STILL))
def test_still_features_stay_within_the_budget(kind: str) -> None:
    detectors = calibrated(kind)
    rng = np.random.default_rng(100)
    alarms = detectors.update("x", STILL[kind](rng, 300_000))
    for name in ("page_hinkley", "adwin"):
        assert sum(a.detector == name for a in alarms) <= 3, name  # ≤ 1 per 100,000


def test_rivers_defaults_are_what_the_budget_fixes() -> None:
    rng = np.random.default_rng(101)
    values = rng.normal(size=100_000)
    detector = DETECTORS["page_hinkley"]()
    alarms = 0
    for x in values.tolist():
        detector.update(x)
        alarms += detector.drift_detected
    assert alarms >= 5  # the uncalibrated setting: many false alarms per 100,000 events


@pytest.mark.parametrize("kind", sorted(STILL))
def test_a_half_sigma_shift_is_caught_within_two_windows(kind: str) -> None:
    rng = np.random.default_rng(102)
    for replicate in range(5):
        detectors = calibrated(kind, seed=replicate)
        still = STILL[kind](rng, 3000)
        shifted = STILL[kind](rng, 2000)
        shifted = shifted + 0.5 * np.std(STILL[kind](rng, 100_000))
        detectors.update("x", still)
        fired = {a.detector: a.index - 3000 for a in detectors.update("x", shifted)
                 if a.index >= 3000}
        assert set(fired) == {"page_hinkley", "adwin"}, (kind, replicate)
        assert max(fired.values()) < 2000  # two windows of the default 1,000 events


def test_alarms_carry_their_statistic_and_threshold() -> None:
    detectors = calibrated("normal")
    detectors.update("x", np.random.default_rng(5).normal(50, 10, 2000))
    alarms = detectors.update("x", np.full(500, 90.0))  # four sigma, capped at the reference's
    ph = next(a for a in alarms if a.detector == "page_hinkley")
    assert ph.statistic > ph.threshold > 1 and ph.index >= 2000
    adwin = next(a for a in alarms if a.detector == "adwin")
    # the mean of the window ADWIN kept after the cut, in reference sigmas: above the old 0
    assert 0 < adwin.statistic <= detectors.bounds["x"][1]
    assert adwin.threshold == detectors.detectors[("x", "adwin")].delta


def test_calibration_is_deterministic_and_state_round_trips() -> None:
    values = np.random.default_rng(3).normal(size=1000)
    assert calibrate_page_hinkley(values, 1.0, seed=7) == calibrate_page_hinkley(values, 1.0,
                                                                                   seed=7)
    assert calibrate_page_hinkley(values, 0.1, seed=7) > calibrate_page_hinkley(values, 10.0,
                                                                                  seed=7)
    detectors = calibrated("normal")
    again = OnlineDetectors.loads(detectors.dumps())
    assert again.bounds == detectors.bounds
    stream = np.random.default_rng(4).normal(55, 10, 3000)
    assert [(a.detector, a.index) for a in again.update("x", stream)] == \
        [(a.detector, a.index) for a in detectors.update("x", stream)]


def test_state_written_before_calibration_still_loads() -> None:
    old = zlib.compress(pickle.dumps((("adwin",), {"x": (0.0, 1.0)},
                                      {("x", "adwin"): river_drift.ADWIN()}, {"x": 0})), 1)
    restored = OnlineDetectors.loads(old)
    assert restored.bounds == {} and restored.update("x", np.zeros(10)) == []


@pytest.mark.parametrize("rows", [1, 7, 8, 16, 19])
@pytest.mark.parametrize("alpha", [detectors.PH_ALPHA, 0.999])
def test_replay_maxima_are_rivers_bit_for_bit(rows: int, alpha: float,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Calibration's replay (compiled) against River's own detector fed each stream value by
    value (threshold never reached): the same largest statistic, to the last bit — with the
    fading factor in use and with a fading one."""
    monkeypatch.setattr(detectors, "PH_ALPHA", alpha)
    rng = np.random.default_rng(rows)
    reference = np.clip(rng.standard_t(3, size=1_000), -4.0, 4.0)
    streams = rng.choice(reference, size=(rows, 3_000))
    maxima = detectors._ph_maxima(streams)
    assert maxima.shape == (rows,)
    for row, expected in zip(streams, maxima, strict=True):
        detector = river_drift.PageHinkley(min_instances=detectors.PH_MIN_INSTANCES,
                                           delta=detectors.PH_DELTA, threshold=math.inf,
                                           alpha=alpha)
        largest = -math.inf
        for i, x in enumerate(row.tolist()):
            detector.update(x)
            if i + 1 >= detectors.PH_MIN_INSTANCES:
                largest = max(largest, detectors.statistic(detector)[0])
        assert largest == expected

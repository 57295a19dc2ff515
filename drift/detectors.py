"""Online drift detectors (River) over standardised feature values, calibrated to a
false-alarm budget on the reference before they go live.

Values are standardised with the reference mean and standard deviation first, so one
threshold means the same thing for a feature in dollars and one in years. At River's
defaults a Page–Hinkley test on a still, normally distributed feature alarms 10–25 times per
100,000 events — every alarm a false one — and heavier tails make it worse. So each detector
is calibrated per feature on that feature's own reference (:func:`calibrate`):

* **Page–Hinkley** keeps ``delta`` at a quarter of a standard deviation (half the 0.5σ shift
  it should catch fastest) and takes the ``threshold`` λ from replays of the reference: the
  exact River recursion is run on bootstrap streams of the reference values (vectorised),
  a Gumbel law is fitted to each stream's largest statistic, and λ is the quantile at which
  the expected alarms stay at half the budget (the other half is margin for the fit).
* **ADWIN** starts from the ``delta`` its bound allows for the budget (a false cut has
  probability ≤ delta per check, one check per ``clock`` = 32 values) and is replayed on
  bootstrap streams; while a replay raises an alarm, delta is divided by ten.

Values are capped at the reference's 0.5 % and 99.5 % quantiles, live and in the replays
alike (a robust CUSUM): a reference of 1,000 values shows little of a heavy tail, and without
the cap one larger outlier than any it held is enough to fire. The seed comes from the
feature's name, so a replay after a crash calibrates identically.
"""

from __future__ import annotations

import math
import pickle
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from river import drift as river_drift

from drift import online

FloatArray = NDArray[np.float64]

#: uncalibrated settings (a reference with no values, or state written before calibration)
DETECTORS: Mapping[str, Any] = {
    "adwin": lambda: river_drift.ADWIN(delta=0.0002),  # type: ignore[no-untyped-call]
    "page_hinkley": lambda: river_drift.PageHinkley(min_instances=100, delta=0.05, threshold=50.0),
}
PH_DELTA = 0.25
PH_MIN_INSTANCES = 100
PH_ALPHA = 1.0
ADWIN_CLOCK = 32
#: live and replayed values are capped at these reference quantiles (see OnlineDetectors)
CLIP_QUANTILE = 0.005


def _ph_maxima(streams: FloatArray) -> FloatArray:
    """The largest Page–Hinkley statistic of each stream (rows), from ``min_instances`` on:
    River's recursion, compiled (drift/online.py), so the replay computes the very
    statistic the live detector will."""
    return online.page_hinkley_maxima(np.ascontiguousarray(streams, dtype=np.float64),
                                      PH_ALPHA, PH_DELTA, float(PH_MIN_INSTANCES))


def calibrate_page_hinkley(values: FloatArray, budget_per_100k: float, *, seed: int,
                           streams: int = 48, length: int = 10_000) -> float:
    """λ for which a still stream like ``values`` (standardised) alarms at most
    ``budget_per_100k`` times per 100,000 events, with a factor-2 margin."""
    rng = np.random.default_rng(seed)
    maxima = np.concatenate([
        _ph_maxima(rng.choice(values, size=(min(16, streams - i), length)))
        for i in range(0, streams, 16)])
    # P(no alarm in `length` events) for an alarm rate of half the budget
    keep = math.exp(-0.5 * budget_per_100k / 100_000 * length)
    scale = float(np.std(maxima, ddof=1)) * math.sqrt(6) / math.pi  # Gumbel by moments
    location = float(np.mean(maxima)) - 0.5772156649 * scale
    return max(location - scale * math.log(-math.log(keep)), float(maxima.max()), 1.0)


def calibrate_adwin(values: FloatArray, budget_per_100k: float, *, seed: int,
                    length: int = 50_000) -> float:
    """The largest ADWIN delta (most sensitive) whose bound meets the budget and whose
    replays of ``values`` raise no alarm."""
    rng = np.random.default_rng(seed)
    delta = min(0.002, budget_per_100k / 100_000 * ADWIN_CLOCK)
    stream = rng.choice(values, size=length).tolist()
    for _ in range(4):
        detector = river_drift.ADWIN(delta=delta)  # type: ignore[no-untyped-call]
        # River's update value by value, in one loop (drift/online.py)
        if not online.adwin(detector, stream):
            break
        delta /= 10
    return delta


def calibrate(name: str, values: FloatArray, budget_per_100k: float, seed: int) -> Any:
    """A River detector of kind ``name`` calibrated on the standardised ``values``."""
    if name == "page_hinkley":
        threshold = calibrate_page_hinkley(values, budget_per_100k, seed=seed)
        return river_drift.PageHinkley(min_instances=PH_MIN_INSTANCES, delta=PH_DELTA,
                                       threshold=threshold, alpha=PH_ALPHA)
    if name == "adwin":
        delta = calibrate_adwin(values, budget_per_100k, seed=seed)
        return river_drift.ADWIN(delta=delta, clock=ADWIN_CLOCK)  # type: ignore[no-untyped-call]
    raise ValueError(f"unknown detector {name!r}; choose from {sorted(DETECTORS)}")


def statistic(detector: Any) -> tuple[float, float]:
    """(statistic, threshold) of a detector that just fired: for Page–Hinkley its PH
    statistic and λ; for ADWIN the mean of the window it kept (in reference standard
    deviations: how far the stream moved) and its delta."""
    if isinstance(detector, river_drift.PageHinkley):
        rise = detector._sum_increase - detector._min_increase
        fall = detector._max_decrease - detector._sum_decrease
        return float(max(rise, fall)), float(detector.threshold)
    return float(detector.estimation), float(detector.delta)


@dataclass(frozen=True)
class Detection:
    feature: str
    detector: str
    index: int  # position in the feature's monitored stream (0 = first value after reference)
    position: int  # position in the ``values`` array passed to ``update``
    statistic: float = math.nan
    threshold: float = math.nan


class OnlineDetectors:
    """One River detector per (feature, detector name); state travels as bytes.

    With ``references`` (feature -> reference values), each detector is calibrated on its
    feature's values to ``budget_per_100k`` false alarms per 100,000 events.
    """

    def __init__(self, names: Iterable[str], scales: Mapping[str, tuple[float, float]],
                 references: Mapping[str, FloatArray] | None = None,
                 budget_per_100k: float = 1.0) -> None:
        unknown = sorted(set(names) - set(DETECTORS))
        if unknown:
            raise ValueError(f"unknown detector(s) {unknown}; choose from {sorted(DETECTORS)}")
        if not budget_per_100k > 0:
            raise ValueError("the false-alarm budget must be > 0")
        self.names = tuple(names)
        self.scales = dict(scales)
        references = references or {}
        self.detectors = {}
        self.bounds: dict[str, tuple[float, float]] = {}
        for f in self.scales:
            standardised = self._standardise(f, np.asarray(references.get(f, ()), dtype=float))
            standardised = standardised[np.isfinite(standardised)]
            if standardised.size >= 30:
                # values beyond the reference's own extremes are capped there, on replay and
                # live alike: one outlier the reference never showed cannot fire a CUSUM, and
                # a shift of the bulk still moves the capped values
                low, high = np.quantile(standardised, [CLIP_QUANTILE, 1 - CLIP_QUANTILE])
                self.bounds[f] = (float(low), float(high))
                standardised = np.clip(standardised, low, high)
            for n in self.names:
                if standardised.size >= 30:
                    seed = zlib.crc32(f"{f}|{n}".encode())
                    self.detectors[(f, n)] = calibrate(n, standardised, budget_per_100k, seed)
                else:
                    self.detectors[(f, n)] = DETECTORS[n]()
        self.seen = {f: 0 for f in self.scales}

    def _standardise(self, feature: str, values: FloatArray) -> FloatArray:
        mean, std = self.scales[feature]
        scale = std if std > 0 and math.isfinite(std) else 1.0
        return (values - mean) / scale

    def update(self, feature: str, values: FloatArray) -> list[Detection]:
        """Feed a feature's new values (NaN = missing, skipped); return detections."""
        if feature not in self.scales:
            return []
        found: list[Detection] = []
        start = self.seen[feature]
        positions = np.flatnonzero(~np.isnan(values))
        scaled = self._standardise(feature, values[positions])
        bounds = getattr(self, "bounds", {}).get(feature)
        if bounds is not None:
            scaled = np.clip(scaled, *bounds)
        for name in self.names:
            # the whole array per detector, River's arithmetic (drift/online.py)
            for i, value, threshold in online.feed(self.detectors[(feature, name)], scaled,
                                                   statistic):
                found.append(Detection(feature, name, start + i, int(positions[i]),
                                       value, threshold))
        self.seen[feature] = start + int(scaled.size)
        return found

    def dumps(self) -> bytes:
        # zlib at level 1 halves what a batch writes to the changelog for ~0.1 ms
        return zlib.compress(pickle.dumps((self.names, self.scales, self.detectors, self.seen,
                                           self.bounds)), 1)

    @classmethod
    def loads(cls, raw: bytes) -> OnlineDetectors:
        # The bytes come only from driftline's own changelog topic (see README, "State").
        state = pickle.loads(zlib.decompress(raw))  # noqa: S301
        self = cls.__new__(cls)
        self.names, self.scales, self.detectors, self.seen = state[:4]
        # state written before calibration has no caps
        self.bounds = state[4] if len(state) > 4 else {}
        return self


def reference_sample(profile: Any, size: int = 10_000) -> FloatArray:
    """The reference values a numeric profile kept, or a sample drawn from its quantile
    sketch (inverse CDF, evenly spaced) when it kept only the sketch."""
    if getattr(profile, "values", None) is not None:
        return np.asarray(profile.values, dtype=np.float64)
    quantiles = np.asarray(profile.quantiles, dtype=np.float64)
    if quantiles.size < 2:
        return np.empty(0)
    grid = np.linspace(0.0, 1.0, quantiles.size)
    return np.interp((np.arange(size) + 0.5) / size, grid, quantiles)

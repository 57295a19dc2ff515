"""River's drift detectors fed a whole array at a time, with River's own arithmetic.

``OnlineDetectors`` feeds each feature's new values of a batch to its detectors. Through
River's public ``update`` every value costs a Python method call, a ``stats.Mean`` update and
a property read (≈ 1 µs for Page–Hinkley; 40 updates per event made the detectors a quarter
of a worker's CPU). Here each detector takes the whole array in one call:

* **Page–Hinkley**: River's recursion, operation for operation (the same running mean
  ``m += (1/n)·(x − m)``, the same sums, extremes and comparisons, the same reset on the
  update after an alarm), in one loop over local floats, reading and writing back the
  detector's own fields. Same floats in the same order, so the statistic and every alarm
  are bit-for-bit River's — ``tests/unit/drift/test_online.py`` checks it against River's
  ``update`` on seeded and property-generated streams, internal state included.
* **ADWIN**: River's ADWIN is a Rust core behind a Python wrapper; the loop calls the core
  (``AdaptiveWindowing.update``) directly and does the wrapper's work (reset after an alarm)
  itself, so the window is River's own.

The detectors stay River objects (their state pickles as before); only the loop moved. Any
other detector type goes through River's ``update``, value by value.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from river import drift as river_drift
from river import stats

#: (position in the array, statistic, threshold) of each alarm
Alarm = tuple[int, float, float]


def page_hinkley(detector: river_drift.PageHinkley, values: Sequence[float]) -> list[Alarm]:
    """``detector.update(x)`` for each of ``values``, as River does it; the alarms."""
    alpha, delta, threshold = detector.alpha, detector.delta, detector.threshold
    min_instances = detector.min_instances
    up = detector.mode in ("up", "both")
    down = detector.mode in ("down", "both")
    mean = detector._x_mean
    n, m = mean.n, mean._mean
    s_inc, s_dec = detector._sum_increase, detector._sum_decrease
    min_inc: float = detector._min_increase
    max_dec: float = detector._max_decrease
    detected = detector._drift_detected
    fresh_mean = False
    alarms: list[Alarm] = []
    for i, x in enumerate(values):
        if detected:  # River resets on the update after an alarm (PageHinkley._reset)
            n, m = 0.0, 0.0
            s_inc, s_dec = 0.0, 0.0
            min_inc, max_dec = math.inf, -1
            detected = False
            fresh_mean = True
        n += 1.0  # stats.Mean.update with w = 1.0
        m += (1.0 / n) * (x - m)
        dev = x - m
        s_inc = alpha * s_inc + dev - delta
        s_dec = alpha * s_dec + dev + delta
        if s_inc < min_inc:
            min_inc = s_inc
        if s_dec > max_dec:
            max_dec = s_dec
        if n >= min_instances:
            rise = s_inc - min_inc
            fall = max_dec - s_dec
            detected = (up and rise > threshold) or (down and fall > threshold)
            if detected:
                alarms.append((i, float(max(rise, fall)), float(threshold)))
    if fresh_mean:
        detector._x_mean = stats.Mean()
    detector._x_mean.n, detector._x_mean._mean = n, m
    detector._sum_increase, detector._sum_decrease = s_inc, s_dec
    detector._min_increase = min_inc
    detector._max_decrease = max_dec  # type: ignore[assignment]  # River starts it at int -1
    detector._drift_detected = bool(detected)
    return alarms


def adwin(detector: river_drift.ADWIN, values: Sequence[float]) -> list[Alarm]:
    """``detector.update(x)`` for each of ``values``: River's Rust window, its reset after an
    alarm; the alarms with the kept window's mean (``detector.estimation``) and delta."""
    alarms: list[Alarm] = []
    detected = detector._drift_detected
    update = detector._helper.update
    for i, x in enumerate(values):
        if detected:
            detector._reset()  # type: ignore[no-untyped-call]
            update = detector._helper.update
        detected = update(x)
        if detected:
            alarms.append((i, float(detector.estimation), float(detector.delta)))
    detector._drift_detected = bool(detected)
    return alarms


def generic(detector: Any, values: Sequence[float],
            describe: Callable[[Any], tuple[float, float]]) -> list[Alarm]:
    """Any other River detector: its own ``update``, value by value; ``describe`` gives an
    alarm's (statistic, threshold)."""
    alarms: list[Alarm] = []
    for i, x in enumerate(values):
        detector.update(x)
        if detector.drift_detected:
            alarms.append((i, *describe(detector)))
    return alarms


def feed(detector: Any, values: Sequence[float],
         describe: Callable[[Any], tuple[float, float]]) -> list[Alarm]:
    """Feed ``values`` in order to a River detector; the alarms, as River would raise them."""
    if type(detector) is river_drift.PageHinkley:
        return page_hinkley(detector, values)
    if type(detector) is river_drift.ADWIN:
        return adwin(detector, values)
    return generic(detector, values, describe)

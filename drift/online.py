"""River's drift detectors fed a whole array at a time, with River's own arithmetic.

``OnlineDetectors`` feeds each feature's new values of a batch to its detectors. Through
River's public ``update`` every value costs a Python method call, a ``stats.Mean`` update and
a property read (≈ 1 µs for Page–Hinkley; 40 updates per event made the detectors a quarter
of a worker's CPU). Here each detector takes the whole array in one call:

* **Page–Hinkley**: River's recursion, operation for operation (the same running mean
  ``m += (1/n)·(x − m)``, the same sums, extremes and comparisons, the same reset on the
  update after an alarm), compiled with numba (no fast-math: the same IEEE operations in the
  same order), reading and writing back the detector's own fields. Same floats in the same
  order, so the statistic and every alarm are bit-for-bit River's —
  ``tests/unit/drift/test_online.py`` checks it against River's ``update`` on seeded and
  property-generated streams, internal state included. Compiled, a value costs ≈ 10 ns
  instead of ≈ 270 ns in the interpreter's loop. numba keeps the machine code in
  ``__pycache__``: a process compiles it once per install (≈ 1 s) and loads it after that
  (≈ 0.5 s, most of it numba setting itself up), at the worker's start
  (:func:`compile_now`). numba and LLVM add ≈ 80 MiB to a worker's memory.
* **ADWIN**: River's ADWIN is a Rust core behind a Python wrapper; the loop calls the core
  (``AdaptiveWindowing.update``) directly and does the wrapper's work (reset after an alarm)
  itself, so the window is River's own.

The detectors stay River objects (their state pickles as before); only the loop moved. Any
other detector type goes through River's ``update``, value by value.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from typing import Any, TypeVar, cast

import numpy as np
from numba import njit
from numpy.typing import NDArray
from river import drift as river_drift
from river import stats

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])

#: (position in the array, statistic, threshold) of each alarm
Alarm = tuple[int, float, float]


def compiled(function: F) -> F:
    """``function`` compiled by numba, its machine code kept in ``__pycache__`` (or the
    user's cache directory) across processes; where neither can be written (a read-only
    image whose user has no writable home) compiled anew in each process instead of
    failing the import."""
    try:
        return cast(F, njit(cache=True, nogil=True)(function))
    except RuntimeError:  # numba: "cannot cache function ...: no locator available"
        log.warning("no writable cache directory for numba: %s is compiled at each start "
                    "(set NUMBA_CACHE_DIR)", function.__qualname__)
        return cast(F, njit(nogil=True)(function))


@compiled
def _page_hinkley_run(values: NDArray[np.float64], state: NDArray[np.float64], alpha: float,
                      delta: float, threshold: float, min_instances: float, up: bool,
                      down: bool) -> tuple[int, bool, NDArray[np.int64], NDArray[np.float64]]:
    """River's ``PageHinkley.update`` over ``values``, compiled. ``state`` (n, mean, the two
    sums, their extremes, the alarm flag) is read and written back in place. Returns (alarms,
    whether the running mean was reset, their positions, their statistics).

    Every line is River's operation on doubles, in River's order: no fast-math, so the
    compiler may neither reorder nor fuse them (IEEE semantics, bit-equal to the
    interpreter's floats: tests/unit/drift/test_online.py)."""
    n, m, s_inc, s_dec, min_inc, max_dec = (state[0], state[1], state[2], state[3], state[4],
                                            state[5])
    detected = state[6] != 0.0
    fresh_mean = False
    positions = np.empty(values.shape[0], dtype=np.int64)
    statistics = np.empty(values.shape[0], dtype=np.float64)
    found = 0
    for i in range(values.shape[0]):
        x = values[i]
        if detected:  # River resets on the update after an alarm (PageHinkley._reset)
            n, m = 0.0, 0.0
            s_inc, s_dec = 0.0, 0.0
            min_inc, max_dec = math.inf, -1.0
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
                positions[found] = i
                statistics[found] = fall if fall > rise else rise  # Python's max(rise, fall)
                found += 1
    state[0], state[1], state[2], state[3], state[4], state[5] = n, m, s_inc, s_dec, min_inc, max_dec
    state[6] = 1.0 if detected else 0.0
    return found, fresh_mean, positions, statistics


@compiled
def page_hinkley_maxima(streams: NDArray[np.float64], alpha: float, delta: float,
                        min_instances: float) -> NDArray[np.float64]:
    """The largest Page–Hinkley statistic (``max(rise, fall)``) of each row of ``streams``
    from the ``min_instances``-th value on, each row fed to a fresh detector that never
    fires: River's recursion, the same operations as :func:`_page_hinkley_run` (what
    calibration replays, bit-for-bit what River's ``update`` would give)."""
    rows, length = streams.shape
    out = np.full(rows, -np.inf)
    for r in range(rows):
        n, m = 0.0, 0.0
        s_inc, s_dec = 0.0, 0.0
        min_inc, max_dec = math.inf, -1.0
        largest = -math.inf
        for i in range(length):
            x = streams[r, i]
            n += 1.0
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
                statistic = fall if fall > rise else rise
                if statistic > largest:
                    largest = statistic
        out[r] = largest
    return out


def compile_now() -> None:
    """Compile (or load from ``__pycache__``) the compiled loops now rather than on first
    use: ≈ 1 s the first time after an install or a change, ≈ 0.5 s after that."""
    values = np.zeros(1)
    _page_hinkley_run(values, np.array([0.0, 0.0, 0.0, 0.0, math.inf, -1.0, 0.0]), 1.0, 0.0,
                      1.0, 1.0, True, True)
    page_hinkley_maxima(values.reshape(1, 1), 1.0, 0.0, 1.0)


def page_hinkley(detector: river_drift.PageHinkley, values: Sequence[float] | NDArray[np.float64],
                 ) -> list[Alarm]:
    """``detector.update(x)`` for each of ``values``, as River does it; the alarms."""
    array = np.asarray(values, dtype=np.float64)
    if array.size == 0:
        return []
    mean = detector._x_mean
    state = np.array([mean.n, mean._mean, detector._sum_increase, detector._sum_decrease,
                      detector._min_increase, detector._max_decrease,
                      1.0 if detector._drift_detected else 0.0])
    found, fresh_mean, positions, statistics = _page_hinkley_run(
        array, state, float(detector.alpha), float(detector.delta), float(detector.threshold),
        float(detector.min_instances), detector.mode in ("up", "both"),
        detector.mode in ("down", "both"))
    n, m, s_inc, s_dec, min_inc, max_dec, detected = state.tolist()
    if fresh_mean:
        detector._x_mean = stats.Mean()
    detector._x_mean.n, detector._x_mean._mean = n, m
    detector._sum_increase, detector._sum_decrease = s_inc, s_dec
    detector._min_increase = min_inc
    detector._max_decrease = max_dec
    detector._drift_detected = detected != 0.0
    threshold = float(detector.threshold)
    return [(i, s, threshold) for i, s in zip(positions[:found].tolist(),
                                              statistics[:found].tolist(), strict=True)]


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


def feed(detector: Any, values: Sequence[float] | NDArray[np.float64],
         describe: Callable[[Any], tuple[float, float]]) -> list[Alarm]:
    """Feed ``values`` in order to a River detector; the alarms, as River would raise them."""
    if type(detector) is river_drift.PageHinkley:
        return page_hinkley(detector, values)
    # the interpreter's loops below iterate floats faster than an array's scalars
    floats: Sequence[float] = values.tolist() if isinstance(values, np.ndarray) else values
    if type(detector) is river_drift.ADWIN:
        return adwin(detector, floats)
    return generic(detector, floats, describe)

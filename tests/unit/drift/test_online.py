"""The array-at-a-time detector loops (drift/online.py) against River's own ``update``, value
by value: the same alarms at the same positions, the same statistics and the same internal
state afterwards, bit for bit — River stays the reference implementation."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from river import drift as river_drift

from drift import online
from drift.detectors import OnlineDetectors, statistic


def reference_run(detector, values):
    """River's public API, one value at a time."""
    alarms = []
    for i, x in enumerate(values):
        detector.update(x)
        if detector.drift_detected:
            alarms.append((i, *statistic(detector)))
    return alarms


def page_hinkley_state(d):
    return (d._x_mean.n, d._x_mean._mean, d._sum_increase, d._sum_decrease, d._min_increase,
            d._max_decrease, d._drift_detected)


def adwin_state(d):
    return (d._drift_detected, d.width, d.total, d.variance, d.n_detections, d.estimation)


def same(a, b):
    return all(x == y or (isinstance(x, float) and math.isnan(x) and math.isnan(y))
               for x, y in zip(a, b, strict=True))


def streams():
    rng = np.random.default_rng(7)
    still = rng.normal(size=5000)
    shifted = np.concatenate([rng.normal(size=2000), rng.normal(1.0, 1.0, 3000),
                              rng.normal(-0.5, 2.0, 3000)])
    return {"still": still, "shifted": shifted, "steps": np.repeat([0.0, 3.0, -3.0, 0.0], 700)}


DETECTORS = {
    "page_hinkley": lambda: river_drift.PageHinkley(min_instances=100, delta=0.25, threshold=8.0,
                                                    alpha=1.0),
    "page_hinkley_fading": lambda: river_drift.PageHinkley(),
    "page_hinkley_up": lambda: river_drift.PageHinkley(min_instances=30, threshold=5.0, mode="up"),
    "adwin": lambda: river_drift.ADWIN(delta=0.002, clock=32),
    "adwin_default": lambda: river_drift.ADWIN(),
}


@pytest.mark.parametrize("name", sorted(DETECTORS))
@pytest.mark.parametrize("stream", ["still", "shifted", "steps"])
@pytest.mark.parametrize("batch", [1, 37, 500, 10_000])
def test_batched_loop_is_rivers_update_exactly(name: str, stream: str, batch: int) -> None:
    values = streams()[stream].tolist()
    river_side, ours = DETECTORS[name](), DETECTORS[name]()
    expected = reference_run(river_side, values)
    got = []
    for start in range(0, len(values), batch):
        got.extend((start + i, s, t) for i, s, t in
                   online.feed(ours, values[start:start + batch], statistic))
    assert got == expected
    state = page_hinkley_state if name.startswith("page") else adwin_state
    assert same(state(ours), state(river_side))
    if stream != "still":
        assert expected, "the stream should make the detector fire at least once"
    # and the state goes on identically after a pickle round trip (how the worker keeps it)
    more = streams()["shifted"].tolist()[:3000]
    assert online.feed(copy.deepcopy(ours), more, statistic) == reference_run(river_side, more)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-50, 50, allow_nan=False), min_size=1, max_size=400),
       st.integers(1, 50), st.floats(0.5, 20.0))
def test_page_hinkley_matches_river_on_any_stream(values, batch, threshold) -> None:
    river_side = river_drift.PageHinkley(min_instances=5, delta=0.1, threshold=threshold, alpha=1.0)
    ours = copy.deepcopy(river_side)
    expected = reference_run(river_side, values)
    got = []
    for start in range(0, len(values), batch):
        got.extend((start + i, s, t) for i, s, t in
                   online.feed(ours, values[start:start + batch], statistic))
    assert got == expected
    assert same(page_hinkley_state(ours), page_hinkley_state(river_side))


def test_online_detectors_give_the_alarms_of_river_value_by_value() -> None:
    """The worker's OnlineDetectors (calibrated, capped, standardised) against the same
    calibrated River detectors updated one value at a time."""
    rng = np.random.default_rng(3)
    reference = rng.normal(50, 10, 1000)
    detectors = OnlineDetectors(["page_hinkley", "adwin"], {"x": (50.0, 10.0)}, {"x": reference})
    twins = copy.deepcopy(detectors.detectors)
    stream = np.concatenate([rng.normal(50, 10, 3000), rng.normal(56, 10, 3000)])
    stream[::97] = np.nan  # missing values are skipped
    found = []
    for start in range(0, stream.size, 250):
        found.extend(detectors.update("x", stream[start:start + 250]))
    present = stream[~np.isnan(stream)]
    low, high = detectors.bounds["x"]
    capped = np.clip((present - 50.0) / 10.0, low, high).tolist()
    for name in ("page_hinkley", "adwin"):
        expected = reference_run(twins[("x", name)], capped)
        assert [(a.index, a.statistic, a.threshold) for a in found if a.detector == name] == \
            expected
        assert expected


def test_without_a_writable_cache_the_loops_compile_anyway(monkeypatch, caplog) -> None:
    """numba refuses ``cache=True`` when it finds no directory to write (a read-only image
    whose user has no writable home): the loop is compiled per process instead, with a
    warning naming the setting, and computes the same."""
    from numba.core import caching

    monkeypatch.setattr(caching.CacheImpl, "_locator_classes", [])

    def running_sum(values):
        total = 0.0
        for v in values:
            total += v
        return total

    fn = online.compiled(running_sum)
    assert fn(np.arange(5.0)) == 10.0
    assert "NUMBA_CACHE_DIR" in caplog.text

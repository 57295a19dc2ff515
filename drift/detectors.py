"""Online drift detectors (River) over standardised feature values.

Values are standardised with the reference mean and standard deviation first, so one
threshold means the same thing for a feature in dollars and one in years.
"""

from __future__ import annotations

import math
import pickle
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from river import drift as river_drift

DETECTORS: Mapping[str, Any] = {
    "adwin": lambda: river_drift.ADWIN(delta=0.0002),
    "page_hinkley": lambda: river_drift.PageHinkley(min_instances=100, delta=0.05, threshold=50.0),
}


@dataclass(frozen=True)
class Detection:
    feature: str
    detector: str
    index: int  # position in the feature's monitored stream (0 = first value after reference)
    position: int  # position in the ``values`` array passed to ``update``


class OnlineDetectors:
    """One River detector per (feature, detector name); state travels as bytes."""

    def __init__(self, names: Iterable[str], scales: Mapping[str, tuple[float, float]]) -> None:
        unknown = sorted(set(names) - set(DETECTORS))
        if unknown:
            raise ValueError(f"unknown detector(s) {unknown}; choose from {sorted(DETECTORS)}")
        self.names = tuple(names)
        self.scales = dict(scales)
        self.detectors = {(f, n): DETECTORS[n]() for f in self.scales for n in self.names}
        self.seen = {f: 0 for f in self.scales}

    def update(self, feature: str, values: np.ndarray) -> list[Detection]:
        """Feed a feature's new values (NaN = missing, skipped); return detections."""
        if feature not in self.scales:
            return []
        mean, std = self.scales[feature]
        scale = std if std > 0 and math.isfinite(std) else 1.0
        found: list[Detection] = []
        start = self.seen[feature]
        positions = np.flatnonzero(~np.isnan(values))
        standardised = ((values[positions] - mean) / scale).tolist()
        for name in self.names:
            detector = self.detectors[(feature, name)]
            for i, x in enumerate(standardised):
                detector.update(x)
                if detector.drift_detected:
                    found.append(Detection(feature, name, start + i, int(positions[i])))
        self.seen[feature] = start + len(standardised)
        return found

    def dumps(self) -> bytes:
        # zlib at level 1 halves what a batch writes to the changelog for ~0.1 ms
        return zlib.compress(pickle.dumps((self.names, self.scales, self.detectors, self.seen)), 1)

    @classmethod
    def loads(cls, raw: bytes) -> OnlineDetectors:
        # The bytes come only from driftline's own changelog topic (see README, "State").
        names, scales, detectors, seen = pickle.loads(zlib.decompress(raw))  # noqa: S301
        self = cls.__new__(cls)
        self.names, self.scales, self.detectors, self.seen = names, scales, detectors, seen
        return self

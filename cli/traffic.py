"""Synthetic production traffic with injected drift, for the demo, tests and benchmarks."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

CATEGORIES = ("web", "ios", "android", "partner")
CATEGORY_SHARES = (0.4, 0.3, 0.2, 0.1)


@dataclass(frozen=True)
class TrafficSpec:
    """``numeric`` still numeric features plus, optionally, shifted ones, and categorical ones.

    From event ``shift_at`` on, each feature in ``shifted`` has its mean moved by
    ``shift_sigma`` standard deviations, and each one in ``mass_shifted`` moves
    ``mass_shift`` of probability mass from the first category to the last.
    """

    model_name: str = "credit-risk"
    model_version: str = "1"
    numeric: tuple[str, ...] = ("income", "age")
    categorical: tuple[str, ...] = ("channel",)
    shifted: tuple[str, ...] = ("income",)
    mass_shifted: tuple[str, ...] = ()
    shift_at: int | None = None
    shift_until: int | None = None
    shift_sigma: float = 1.0
    mass_shift: float = 0.15
    seed: int = 7
    start: datetime = field(default_factory=lambda: datetime(2026, 11, 1, tzinfo=UTC))
    spacing: timedelta = timedelta(milliseconds=100)


def _uuid(rng: np.random.Generator) -> str:
    return str(uuid.UUID(bytes=rng.bytes(16), version=4))


def feature_events(spec: TrafficSpec, n: int, first: int = 0) -> Iterator[dict[str, Any]]:
    """Events ``first`` .. ``first + n - 1``; the same seed always yields the same stream."""
    rng = np.random.default_rng([spec.seed, first])
    for i in range(first, first + n):
        shifting = spec.shift_at is not None and i >= spec.shift_at and (
            spec.shift_until is None or i < spec.shift_until)
        features: dict[str, Any] = {}
        for j, name in enumerate(spec.numeric):
            mean, sd = 50.0 + 10 * j, 10.0 + j
            if shifting and name in spec.shifted:
                mean += spec.shift_sigma * sd
            features[name] = round(float(rng.normal(mean, sd)), 6)
        for name in spec.categorical:
            shares = np.array(CATEGORY_SHARES)
            if shifting and name in spec.mass_shifted:
                shares[0] -= spec.mass_shift
                shares[-1] += spec.mass_shift
            features[name] = CATEGORIES[int(rng.choice(len(CATEGORIES), p=shares))]
        yield {
            "event_id": _uuid(rng),
            "schema_version": 1,
            "model_name": spec.model_name,
            "model_version": spec.model_version,
            "timestamp": (spec.start + i * spec.spacing).isoformat(),
            "features": features,
        }

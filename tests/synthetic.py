"""Synthetic labelled traffic for tests of the loop: a known relationship that can
change, so "the old champion is wrong now" is a fact, not a hope.

``relation="original"``: label ``yes`` when ``x1 + 0.5·x2 > 0`` (region ``north`` adds 0.3);
``relation="flipped"``: the opposite. Features are seeded standard normals and a category.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from schemas.events import DriftEvent
from schemas.spec import SCHEMA_VERSION

REGIONS = ("north", "south", "east", "west")


def label_for(features: dict[str, Any], relation: str) -> str:
    score = features["x1"] + 0.5 * features["x2"] + (0.3 if features["region"] == "north" else 0.0)
    positive = score > 0
    if relation == "flipped":
        positive = not positive
    elif relation != "original":
        raise ValueError(f"relation must be 'original' or 'flipped', got {relation!r}")
    return "yes" if positive else "no"


def labelled_rows(model: str, n: int, *, relation: str, seed: int, end: datetime,
                  spacing: timedelta = timedelta(seconds=5)) -> Iterator[dict[str, Any]]:
    """``n`` rows for ``labelled_predictions``, the newest at ``end``."""
    rng = random.Random(seed)  # noqa: S311 - synthetic data
    for i in range(n):
        features = {"x1": round(rng.gauss(0, 1), 4), "x2": round(rng.gauss(0, 1), 4),
                    "region": rng.choice(REGIONS)}
        label = label_for(features, relation)
        ts = end - spacing * (n - 1 - i)
        yield {"event_id": uuid.uuid5(uuid.NAMESPACE_URL, f"synthetic:{model}:{seed}:{i}"),
               "timestamp": ts, "model_name": model, "model_version": "1",
               "label_time": ts, "prediction": label_for(features, "original"),
               "probabilities": None, "features": features, "label": label}


def drift_event(model: str, feature: str, *, kind: str = "data_drift", severity: str = "high",
                alert: str = "fired", window: int = 0, when: datetime, seq: int = 0) -> DriftEvent:
    """A drift event as the feature monitor would publish it for a closed window."""
    start = when - timedelta(minutes=10)
    return DriftEvent(
        event_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"drift:{model}:{feature}:{kind}:{window}:{seq}")),
        schema_version=SCHEMA_VERSION, model_name=model, model_version="1",
        timestamp=when.isoformat(), kind=kind, feature=feature,
        test="ks" if kind == "data_drift" else "page_hinkley", statistic=0.4, p_value=1e-6,
        drifted=True, window_start_seq=1000 * window, window_end_seq=1000 * (window + 1),
        window_start_offset=1000 * window, window_end_offset=1000 * (window + 1) - 1,
        window_start_time=start.isoformat(), window_end_time=when.isoformat(),
        reference_size=1000, current_size=1000, effect=0.4, severity=severity,
        p_value_adjusted=1e-5, missing_share=0.0, alert=alert)

"""Delayed labels on the real broker: out-of-order joins, a performance drop, dead letters."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from sqlalchemy import func, select

from storage.models import LabelledPrediction, PerformanceMetric
from tests.integration.conftest import consume, produce

pytestmark = pytest.mark.integration
T0 = datetime(2026, 11, 20, tzinfo=UTC)


def prediction_and_label(model: str, i: int, accurate: bool):
    truth = "yes" if i % 2 else "no"
    guess = truth if accurate else ("no" if truth == "yes" else "yes")
    p_yes = 0.85 if guess == "yes" else 0.15
    # the first five predictions are two days older than the rest: past the one-day TTL
    when = T0 + timedelta(minutes=i) - (timedelta(days=2) if i < 5 else timedelta(0))
    pid = str(uuid.UUID(int=random.Random(f"{model}{i}").getrandbits(128), version=4))
    prediction = {"event_id": pid, "schema_version": 1, "model_name": model,
                  "model_version": "1", "timestamp": when.isoformat(), "prediction": guess,
                  "probabilities": {"yes": p_yes, "no": round(1 - p_yes, 6)},
                  "features": {"x": float(i % 17)}}
    label = {"event_id": str(uuid.uuid4()), "schema_version": 1, "model_name": model,
             "model_version": "1", "timestamp": (when + timedelta(minutes=30)).isoformat(),
             "prediction_event_id": pid, "label": truth, "prediction_timestamp": when.isoformat()}
    return prediction, label


def test_late_out_of_order_labels_join_and_an_accuracy_drop_is_reported(
    worker_factory, broker, engine, unique
):
    model = f"{unique}-clf"
    worker_factory(PERFORMANCE__WINDOW_SIZE="200", PERFORMANCE__JOIN_TTL_DAYS="1",
                   PERFORMANCE__LABEL_GRACE_HOURS="0.5", DRIFT__DETECTORS="[]",
                   PERFORMANCE__CALIBRATION_SIZE="300")
    # 1,000 predictions a minute apart: 90% right for the first 600, then 80%
    pairs = [prediction_and_label(model, i, accurate=(i % 10 != 0) if i < 600 else (i % 5 != 0))
             for i in range(1000)]
    key = model.encode()
    expired = [label for _, label in pairs[:5]]  # held back until their predictions expire
    unknown = [{**pairs[0][1], "event_id": str(uuid.uuid4()),
                "prediction_event_id": str(uuid.uuid4())} for _ in range(3)]
    for u in unknown:
        del u["prediction_timestamp"]
    # labels arrive 30-90 minutes after their prediction, out of order; those of predictions
    # 100..149 arrive before the prediction itself
    jitter = random.Random(3)
    arrivals = []
    for i, (prediction, label) in enumerate(pairs):
        arrivals.append((i, 0, prediction, "predictions"))
        if i >= 5:
            delay = -10 if 100 <= i < 150 else 30 + jitter.randrange(60)
            arrivals.append((i + delay, 1, label, "labels"))
    arrivals.sort(key=lambda a: (a[0], a[1]))
    for start in range(0, len(arrivals), 200):
        block = arrivals[start:start + 200]
        for topic in ("labels", "predictions"):
            produce(broker, f"{unique}-{topic}",
                    [(key, orjson.dumps(e)) for _, _, e, t in block if t == topic])
    produce(broker, f"{unique}-labels", [(key, orjson.dumps(x)) for x in unknown + expired])
    # labels past the TTL are turned away at once
    consume(broker, f"{unique}-dead-letters", lambda m: len(m) >= 5, timeout=120)
    # the stream goes on: an hour of new predictions moves the watermark past the grace period
    # the labels for unknown predictions were waiting in
    later = [prediction_and_label(model, i, accurate=True)[0] for i in range(1000, 1060)]
    produce(broker, f"{unique}-predictions", [(key, orjson.dumps(p)) for p in later])

    drops = [orjson.loads(m.value) for m in consume(
        broker, f"{unique}-drift-events",
        lambda ms: any(orjson.loads(m.value)["kind"] == "performance_drop"
                       and orjson.loads(m.value)["feature"] == "accuracy" for m in ms),
        timeout=180)]
    accuracy = [d for d in drops if d["kind"] == "performance_drop" and d["feature"] == "accuracy"]
    assert accuracy and accuracy[0]["alert"] == "fired"
    assert accuracy[0]["effect"] == pytest.approx(0.1, abs=0.03)

    # 8 dead letters: 5 labels past the TTL, 3 for predictions never seen
    letters = [orjson.loads(m.value) for m in consume(
        broker, f"{unique}-dead-letters", lambda m: len(m) >= 8, timeout=120)]
    reasons = sorted(letter["reason"] for letter in letters)
    assert len(letters) == 8, reasons
    assert sum("1-day join TTL expired" in r for r in reasons) == 5
    assert sum("no prediction with this event_id" in r for r in reasons) == 3

    # every joined pair reached PostgreSQL, and the metrics with them
    import time

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            joined = conn.execute(select(func.count()).select_from(LabelledPrediction).where(
                LabelledPrediction.model_name == model)).scalar_one()
            windows = conn.execute(select(func.count()).select_from(PerformanceMetric).where(
                PerformanceMetric.model_name == model,
                PerformanceMetric.metric == "accuracy")).scalar_one()
        if joined == 995 and windows >= 4:
            break
        time.sleep(0.5)
    assert joined == 995 and windows >= 4

    # the version is calibrated now (300 pairs joined): new predictions are estimated per
    # window of 200 before any label of theirs exists
    fresh = [prediction_and_label(model, i, accurate=True)[0] for i in range(1060, 1460)]
    produce(broker, f"{unique}-predictions", [(key, orjson.dumps(p)) for p in fresh])
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            estimated = conn.execute(select(PerformanceMetric).where(
                PerformanceMetric.model_name == model, PerformanceMetric.metric == "accuracy",
                PerformanceMetric.estimated.is_(True))).fetchall()
        if estimated:
            break
        time.sleep(0.5)
    assert estimated and all(m.lower <= m.value <= m.upper and m.sample_size == 200
                             for m in estimated)
    # calibrated on pairs that were 90 % right at p = 0.85: the estimate says about 0.9
    assert all(0.8 < m.value < 1.0 and m.reference_value is not None for m in estimated)

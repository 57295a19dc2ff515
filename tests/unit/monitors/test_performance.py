"""The label join (TTL, out-of-order labels, dead letters) and windowed performance."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sklearn import metrics as skm

from drift.performance import classification_metrics, regression_metrics, roc_auc
from monitors.label_join import JoinConfig, LabelIn, LabelJoin, PredictionIn, SourceRef
from monitors.performance import PerformanceConfig, PerformanceMonitor
from schemas.events import LabelledPredictionEvent
from tests.unit.monitors.test_drift_monitor import DictStore

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def ref(topic, offset):
    return SourceRef(topic, 0, offset, b"m", f"{topic}-{offset}".encode())


def prediction(i, when, pid=None):
    return PredictionIn(source=ref("predictions", i), event_id=pid or str(uuid.uuid4()),
                        model_version="1", timestamp=when.isoformat(), prediction="yes",
                        probabilities={"yes": 0.8, "no": 0.2}, features={"x": 1.0})


def label(i, pid, when, prediction_time=None):
    return LabelIn(source=ref("labels", i), event_id=str(uuid.uuid4()), prediction_event_id=pid,
                   timestamp=when.isoformat(), label="yes",
                   prediction_timestamp=prediction_time.isoformat() if prediction_time else None)


def test_labels_join_in_either_order_and_only_once():
    join = LabelJoin(DictStore(), JoinConfig())
    early = prediction(0, T0)
    out = join.add_predictions("m", [early])
    assert out.joined == [] and out.rejected == []
    out = join.add_labels("m", [label(0, early.event_id, T0 + timedelta(days=2))])
    assert [j.prediction_event_id for j in out.joined] == [early.event_id]
    assert out.joined[0].features == {"x": 1.0}
    # a label before its prediction waits for it
    pid = str(uuid.uuid4())
    assert join.add_labels("m", [label(1, pid, T0 + timedelta(days=2))]).joined == []
    out = join.add_predictions("m", [prediction(1, T0 + timedelta(days=2), pid)])
    assert [j.prediction_event_id for j in out.joined] == [pid]
    # a second label for a joined prediction is unknown now, and waits, then is dead-lettered
    again = join.add_labels("m", [label(2, early.event_id, T0 + timedelta(days=2))])
    assert again.joined == [] and again.rejected == []


def test_redelivered_batches_are_skipped():
    join = LabelJoin(DictStore(), JoinConfig())
    p = prediction(0, T0)
    join.add_predictions("m", [p])
    first = join.add_labels("m", [label(0, p.event_id, T0)])
    replay = join.add_labels("m", [label(0, p.event_id, T0)])
    assert len(first.joined) == 1 and replay.joined == [] and replay.rejected == []


def test_expired_and_unknown_labels_are_dead_lettered_with_their_reason():
    store = DictStore()
    join = LabelJoin(store, JoinConfig(ttl=timedelta(days=7), grace=timedelta(hours=1)))
    old = prediction(0, T0)
    join.add_predictions("m", [old])
    # eight days later the old prediction has expired from the table
    join.add_predictions("m", [prediction(1, T0 + timedelta(days=8, hours=2))])
    assert store.get(f"j|{old.event_id}".encode()) is None
    out = join.add_labels("m", [label(0, old.event_id, T0 + timedelta(days=8, hours=2), T0)])
    assert [r.reason for r in out.rejected] == [
        "label arrived after the prediction's 7-day join TTL expired"]
    assert out.rejected[0].source.value == b"labels-0"
    # a label for an id never seen waits through the grace period, then is dead-lettered
    unknown = str(uuid.uuid4())
    assert join.add_labels("m", [label(1, unknown, T0 + timedelta(days=8, hours=2))]).rejected == []
    out = join.add_predictions("m", [prediction(2, T0 + timedelta(days=8, hours=5))])
    assert len(out.rejected) == 1 and "unknown, or older than the 7-day TTL" in out.rejected[0].reason
    assert out.rejected[0].source.value == b"labels-1"
    assert not [k for k in store.data if k.startswith(b"l|")]


def test_join_state_is_bounded_by_the_ttl():
    store = DictStore()
    join = LabelJoin(store, JoinConfig(ttl=timedelta(hours=2), grace=timedelta(minutes=30)))
    for hour in range(48):
        join.add_predictions("m", [prediction(hour * 10 + i, T0 + timedelta(hours=hour, minutes=i))
                                   for i in range(10)])
    held = [k for k in store.data if k.startswith(b"j|")]
    assert len(held) <= 10 * 4  # at most TTL + one hour of predictions


def pairs(n, correct_every, start=0, version="1"):
    out = []
    for i in range(start, start + n):
        truth = "yes" if i % 2 else "no"
        guess = truth if i % correct_every else ("no" if truth == "yes" else "yes")
        p_yes = 0.9 if guess == "yes" else 0.1
        out.append((i, LabelledPredictionEvent(
            event_id=str(uuid.UUID(int=i + 1)), schema_version=1, model_name="m",
            model_version=version, timestamp=(T0 + timedelta(seconds=i)).isoformat(),
            label_time=(T0 + timedelta(seconds=i, hours=1)).isoformat(), prediction=guess,
            label=truth, probabilities={"yes": p_yes, "no": 1 - p_yes})))
    return out


def test_accuracy_drop_raises_a_performance_drop_once_and_then_recovers():
    config = PerformanceConfig(window_size=200)
    monitor = PerformanceMonitor(DictStore(), config)
    good = pairs(600, correct_every=10)  # 90% accurate
    bad = pairs(400, correct_every=5, start=600)  # 80% accurate: a 10-point drop
    again = pairs(600, correct_every=10, start=1000)
    out_events, metrics = [], []
    for chunk in (good, bad, again):
        for i in range(0, len(chunk), 50):
            out = monitor.apply("m", "1", chunk[i:i + 50])
            out_events += out.drift_events
            metrics += out.metrics
    accuracy = [m.value for m in metrics if m.metric == "accuracy"]
    assert accuracy[:3] == pytest.approx([0.9, 0.9, 0.9]) and accuracy[3:5] == pytest.approx([0.8, 0.8])
    drops = [e for e in out_events if e.kind == "performance_drop" and e.test == "margin"]
    assert {e.feature for e in drops} >= {"accuracy"}
    acc = [e for e in drops if e.feature == "accuracy"]
    assert [e.alert for e in acc] == ["fired", "ongoing"]
    assert acc[0].effect == pytest.approx(0.1) and acc[0].window_start_seq == 600
    assert any(e.kind == "recovered" and e.feature == "accuracy" for e in out_events)
    assert {"accuracy", "precision", "recall", "f1", "roc_auc"} <= {m.metric for m in metrics}
    # DDM saw the error rate double
    assert any(e.test == "ddm" for e in out_events)


def test_duplicates_from_a_replayed_join_are_not_counted():
    monitor = PerformanceMonitor(DictStore(), PerformanceConfig(window_size=100))
    batch = pairs(150, correct_every=10)
    monitor.apply("m", "1", batch[:120])
    # the join re-published pairs 100..119 with new offsets after a crash
    replayed = [(1000 + i, pair) for i, (_, pair) in enumerate(batch[100:120])]
    out = monitor.apply("m", "1", replayed + [(2000 + i, p) for i, (_, p) in enumerate(batch[120:])])
    assert out.metrics == []  # 150 distinct pairs: the second window is not full yet


def test_metrics_agree_with_scikit_learn():
    rng = np.random.default_rng(0)
    truth = rng.choice(["a", "b"], size=500)
    guess = np.where(rng.random(500) < 0.8, truth, np.where(truth == "a", "b", "a"))
    scores = np.clip(np.where(guess == "b", 0.7, 0.3) + rng.normal(0, 0.2, 500), 0, 1)
    ours = classification_metrics(truth, guess, scores, positive="b")
    assert ours["accuracy"] == pytest.approx(skm.accuracy_score(truth, guess))
    assert ours["precision"] == pytest.approx(skm.precision_score(truth, guess, pos_label="b"))
    assert ours["recall"] == pytest.approx(skm.recall_score(truth, guess, pos_label="b"))
    assert ours["f1"] == pytest.approx(skm.f1_score(truth, guess, pos_label="b"))
    assert ours["roc_auc"] == pytest.approx(skm.roc_auc_score(truth == "b", scores))
    multi_t = rng.choice(["x", "y", "z"], 300)
    multi_p = rng.choice(["x", "y", "z"], 300)
    m = classification_metrics(multi_t, multi_p)
    assert m["f1"] == pytest.approx(skm.f1_score(multi_t, multi_p, average="macro"))
    y, yhat = rng.normal(size=200), rng.normal(size=200)
    r = regression_metrics(y, yhat)
    assert r["mae"] == pytest.approx(skm.mean_absolute_error(y, yhat))
    assert r["rmse"] == pytest.approx(np.sqrt(skm.mean_squared_error(y, yhat)))
    assert roc_auc(np.array([True, True]), np.array([0.1, 0.2])) is None


def test_labels_consumed_ahead_of_their_predictions_still_join():
    # the labels topic is read hours (of event time) ahead of the predictions topic
    join = LabelJoin(DictStore(), JoinConfig(ttl=timedelta(days=1), grace=timedelta(minutes=30)))
    join.add_predictions("m", [prediction(0, T0)])
    later = [prediction(10 + i, T0 + timedelta(hours=5, minutes=i)) for i in range(3)]
    waiting = join.add_labels("m", [label(i, p.event_id, T0 + timedelta(hours=6),
                                          T0 + timedelta(hours=5, minutes=i))
                                    for i, p in enumerate(later)])
    assert waiting.joined == [] and waiting.rejected == []
    # predictions catch up hour by hour; none of the waiting labels is given up on early
    for hour in range(1, 5):
        out = join.add_predictions("m", [prediction(hour, T0 + timedelta(hours=hour))])
        assert out.rejected == [], hour
    out = join.add_predictions("m", later)
    assert len(out.joined) == 3 and out.rejected == []

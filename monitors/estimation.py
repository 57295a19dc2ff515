"""Performance estimated on the stream, before labels join: calibration from the first
labelled predictions of a version, then CBPE per window of predictions.

Two state machines share the monitors' table:

* :class:`CalibrationCollector` (driven by the performance monitor, on labelled pairs)
  keeps the first ``calibration_size`` pairs with probabilities of a (model, version), then
  fits the isotonic calibration and the reference baseline (metrics and their spread at the
  window's size) and writes them under one key, once;
* :class:`PerformanceEstimator` (driven by the predictions agent) windows the version's
  predictions (``window_size`` each) and, once the calibration exists, publishes each
  window's estimated accuracy, precision, recall, F1 and ROC AUC as ``MetricEvent`` records
  marked ``estimated`` with their interval, judges them by the drop rule and raises
  ``estimated_performance_drop`` drift events and alerts (with hygiene). Windows that close
  before the calibration exists are counted, not estimated.

Like the other monitors, a batch's writes are keyed by what the head says, so a replay
rewrites the same keys and publishes the same event ids.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import orjson

from drift.estimation.metrics import CLASSIFICATION_METRICS
from drift.hygiene import AlertPolicy, AlertState, step
from drift.performance import DropRule
from monitors.drift_monitor import (
    AlertSignal,
    DecodedCache,
    MonitorOutput,
    StateStore,
    _event_id,
    category_text,
)
from monitors.state import SEP, Chunk, WindowBounds, concat_chunks
from schemas.events import DriftEvent, LabelledPredictionEvent, MetricEvent
from schemas.spec import SCHEMA_VERSION

#: decoded calibrations, valid while their stored bytes are unchanged
_CALIBRATIONS = DecodedCache(256)


@dataclass(frozen=True)
class EstimationConfig:
    app_id: str = "driftline"
    window_size: int = 500
    calibration_size: int = 1000
    rule: DropRule = field(default_factory=DropRule)
    alert_policy: AlertPolicy = field(default_factory=lambda: AlertPolicy(k=1, m=2))
    metrics: tuple[str, ...] = CLASSIFICATION_METRICS


def _key(kind: str, *parts: object) -> bytes:
    return SEP.join(["q" + kind, *map(str, parts)]).encode()


def _probability_columns(classes: Sequence[str]) -> dict[str, str]:
    return {f"p{SEP}{c}": "numeric" for c in classes} | {"prediction": "categorical",
                                                        "label": "categorical"}


def _chunk(classes: Sequence[str], rows: Sequence[tuple[Any, dict[str, float], Any]]) -> Chunk:
    """(prediction, probabilities, label) rows as a chunk: one column per class."""
    return Chunk(
        numeric={f"p{SEP}{c}": np.array([float(p.get(c, math.nan)) for _, p, _ in rows])
                 for c in classes},
        categorical={"prediction": [category_text(v) for v, _, _ in rows],
                     "label": [category_text(v) for _, _, v in rows]})


@dataclass
class CalibrationHead:
    classes: list[str] = field(default_factory=list)
    rows: int = 0
    chunks: int = 0
    done: bool = False
    skipped: int = 0  # pairs whose probabilities do not name the version's classes
    failed: str = ""  # why the calibration could not be fitted, if it could not


class CalibrationCollector:
    """The first ``calibration_size`` labelled pairs of a version become its calibration."""

    def __init__(self, store: StateStore, config: EstimationConfig) -> None:
        self.store, self.config = store, config

    def add(self, model: str, version: str, pairs: Sequence[LabelledPredictionEvent]) -> None:
        raw = self.store.get(_key("kh", model, version))
        head = CalibrationHead(**orjson.loads(raw)) if raw is not None else CalibrationHead()
        if head.done:
            return
        rows = []
        for pair in pairs:
            if not pair.probabilities:
                continue
            if not head.classes:
                head.classes = sorted(pair.probabilities)
            if set(pair.probabilities) != set(head.classes) or len(head.classes) < 2:
                head.skipped += 1
                continue
            rows.append((pair.prediction, pair.probabilities, pair.label))
        if not rows:
            if raw is not None or head.skipped:
                self.store.set(_key("kh", model, version), orjson.dumps(asdict(head)))
            return
        needed = self.config.calibration_size - head.rows
        taken, head.rows = rows[:needed], head.rows + min(len(rows), needed)
        chunk = _chunk(head.classes, taken)
        if head.rows < self.config.calibration_size:
            self.store.set(_key("kc", model, version, head.chunks), chunk.encode())
            head.chunks += 1
        else:
            chunks = [Chunk.decode(self.store.get(_key("kc", model, version, n)) or b"")
                      for n in range(head.chunks)]
            for n in range(head.chunks):
                self.store.delete(_key("kc", model, version, n))
            values = concat_chunks([*chunks, chunk], _probability_columns(head.classes))
            try:
                self.store.set(_key("cal", model, version), self._fit(head.classes, values))
            except ValueError as error:
                # pairs that cannot calibrate (labels outside the classes, one row left) leave
                # the version without estimates; they are valid data and stay counted
                head.failed = str(error)[:200]
            head.done, head.chunks = True, 0
        self.store.set(_key("kh", model, version), orjson.dumps(asdict(head)))

    def _fit(self, classes: list[str], values: Chunk) -> bytes:
        from drift.estimation import classification_baseline, fit_calibration

        probabilities = np.column_stack([values.numeric[f"p{SEP}{c}"] for c in classes])
        labels = [str(v) for v in values.categorical["label"]]
        predictions = [str(v) for v in values.categorical["prediction"]]
        known = [i for i, (y, p) in enumerate(zip(labels, predictions, strict=True))
                 if y in classes and p in classes and np.all(np.isfinite(probabilities[i]))]
        positive = classes[-1] if len(classes) == 2 else None
        probabilities = np.clip(probabilities[known], 0.0, 1.0)
        index = {c: i for i, c in enumerate(classes)}
        y = np.array([index[labels[i]] for i in known], dtype=np.int64)
        predicted = np.array([index[predictions[i]] for i in known], dtype=np.int64)
        pos = None if positive is None else index[positive]
        calibration = fit_calibration(probabilities if pos is None else probabilities[:, pos],
                                      [classes[i] for i in y], classes, positive)
        baseline = classification_baseline(
            y, predicted, probabilities if pos is None else probabilities[:, pos], len(classes),
            pos, self.config.window_size, self.config.metrics)
        return orjson.dumps({"calibration": calibration.to_dict(),
                             "baseline": baseline.to_dict()})


@dataclass
class EstimatorHead:
    last_offset: int = -1
    seq: int = 0
    window: WindowBounds = field(default_factory=WindowBounds)
    classes: list[str] = field(default_factory=list)
    hygiene: dict[str, list[Any]] = field(default_factory=dict)
    stale: list[list[int]] = field(default_factory=list)
    uncalibrated_windows: int = 0

    def encode(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def decode(cls, raw: bytes) -> EstimatorHead:
        data = orjson.loads(raw)
        data["window"] = WindowBounds(**data["window"])
        return cls(**data)


@dataclass(frozen=True)
class PredictionIn:
    offset: int
    timestamp: str
    prediction: Any
    probabilities: dict[str, float] | None


class PerformanceEstimator:
    """Estimated metrics per window of a version's predictions."""

    def __init__(self, store: StateStore, config: EstimationConfig) -> None:
        self.store, self.config = store, config

    def apply(self, model: str, version: str, batch: Sequence[PredictionIn]) -> MonitorOutput:
        raw = self.store.get(_key("eh", model, version))
        head = EstimatorHead.decode(raw) if raw is not None else EstimatorHead()
        out = MonitorOutput()
        fresh = [p for p in batch if p.offset > head.last_offset and p.probabilities]
        if not fresh:
            if batch and batch[-1].offset > head.last_offset and raw is not None:
                head.last_offset = batch[-1].offset
                self.store.set(_key("eh", model, version), head.encode())
            return out
        for window, count in head.stale:
            for n in range(count):
                self.store.delete(_key("ec", model, version, window, n))
        head.stale = []
        pending: list[PredictionIn] = []
        for item in fresh:
            head.last_offset = item.offset
            if not head.classes:
                head.classes = sorted(item.probabilities or {})
            pending.append(item)
            head.window.add(head.seq, item.offset, item.timestamp)
            head.seq += 1
            if head.window.size >= self.config.window_size:
                out.extend(self._close(model, version, head, pending))
                pending = []
        if pending:
            rows = [(p.prediction, p.probabilities or {}, None) for p in pending]
            self.store.set(_key("ec", model, version, head.window.index, head.window.chunks),
                           _chunk(head.classes, rows).encode())
            head.window.chunks += 1
        self.store.set(_key("eh", model, version), head.encode())
        return out

    def _calibration(self, model: str, version: str) -> Any | None:
        key = _key("cal", model, version)
        raw = self.store.get(key)
        if raw is None:
            return None
        cached = _CALIBRATIONS.get(key, raw)
        if cached is None:
            from drift.estimation import Baseline, Calibration

            document = orjson.loads(raw)
            cached = (Calibration.from_dict(document["calibration"]),
                      Baseline.from_dict(document["baseline"]))
            _CALIBRATIONS.put(key, raw, cached)
        return cached

    def _close(self, model: str, version: str, head: EstimatorHead,
               pending: Sequence[PredictionIn]) -> MonitorOutput:
        bounds = head.window
        chunks = [Chunk.decode(self.store.get(_key("ec", model, version, bounds.index, n)) or b"")
                  for n in range(bounds.chunks)]
        if bounds.chunks:
            head.stale.append([bounds.index, bounds.chunks])
        head.window = WindowBounds(index=bounds.index + 1)
        out = MonitorOutput()
        calibrated = self._calibration(model, version)
        if calibrated is None:
            head.uncalibrated_windows += 1
            return out
        calibration, baseline = calibrated
        rows = [(p.prediction, p.probabilities or {}, None) for p in pending]
        values = concat_chunks([*chunks, _chunk(head.classes, rows)],
                               _probability_columns(head.classes))
        estimates = self._estimate(calibration, values)
        if estimates is None:
            return out
        changed: dict[str, list[DriftEvent]] = {"fired": [], "recovered": []}
        for name, est in estimates.items():
            reference = baseline.values.get(name)
            out.metrics.append(MetricEvent(
                event_id=_event_id(self.config.app_id, "qe", model, version, bounds.index, name),
                schema_version=SCHEMA_VERSION, model_name=model, model_version=version,
                timestamp=bounds.end_time, metric=name, value=est.value, sample_size=bounds.size,
                window_start_seq=bounds.start_seq, window_end_seq=bounds.end_seq,
                window_start_time=bounds.start_time, window_end_time=bounds.end_time,
                reference_value=reference, estimated=True, lower=est.lower, upper=est.upper))
            if reference is None:
                continue
            event = self._judge(model, version, head, bounds, name, est, reference,
                                baseline.spread.get(name, 0.0))
            if event is not None:
                out.drift_events.append(event)
                if event.alert in changed:
                    changed[event.alert].append(event)
        # one message per window and outcome; its text and key are governance's
        out.alerts.extend(AlertSignal("estimated_performance_drop", outcome, tuple(events))
                          for outcome, events in changed.items() if events)
        return out

    def _estimate(self, calibration: Any, values: Chunk) -> dict[str, Any] | None:
        from drift.estimation import estimate_classification

        classes = list(calibration.classes)
        if any(f"p{SEP}{c}" not in values.numeric for c in classes):
            return None  # the predictions name other classes than the labelled reference
        raw = np.column_stack([values.numeric[f"p{SEP}{c}"] for c in classes])
        index = {c: i for i, c in enumerate(classes)}
        keep = [i for i, p in enumerate(values.categorical["prediction"])
                if p in index and np.all(np.isfinite(raw[i]))]
        if not keep:
            return None
        raw = np.clip(raw[keep], 0.0, 1.0)
        predicted = np.array([index[str(values.categorical["prediction"][i])] for i in keep],
                             dtype=np.int64)
        positive = None if calibration.positive is None else index[calibration.positive]
        q = calibration.apply(raw if positive is None else raw[:, positive])
        return estimate_classification(q, predicted, raw, positive, self.config.metrics)

    def _judge(self, model: str, version: str, head: EstimatorHead, bounds: WindowBounds,
               metric: str, est: Any, reference: float, sd: float) -> DriftEvent | None:
        judged = self.config.rule.judge(metric, est.value, reference, sd)
        history, active = head.hygiene.get(metric, [[], False])
        state, outcome = step(AlertState(tuple(history), active), judged.dropped,
                              self.config.alert_policy)
        head.hygiene[metric] = [list(state.history), state.active]
        if not judged.dropped and outcome != "recovered":
            return None
        return DriftEvent(
            event_id=_event_id(self.config.app_id, "qe", model, version, bounds.index,
                               metric, "drop"),
            schema_version=SCHEMA_VERSION, model_name=model, model_version=version,
            timestamp=bounds.end_time,
            kind="recovered" if outcome == "recovered" else "estimated_performance_drop",
            feature=metric, test="drop_rule", statistic=est.value, p_value=None,
            drifted=judged.dropped, window_start_seq=bounds.start_seq,
            window_end_seq=bounds.end_seq, window_start_offset=bounds.start_offset,
            window_end_offset=bounds.end_offset, window_start_time=bounds.start_time,
            window_end_time=bounds.end_time, reference_size=self.config.calibration_size,
            current_size=bounds.size, effect=judged.drop, severity=judged.severity,
            alert=outcome,
            tests={"drop_rule": {"statistic": judged.drop, "p_value": None,
                                 "effect": judged.drop, "drifted": judged.dropped},
                   "reference": {"statistic": reference, "p_value": None},
                   "threshold": {"statistic": judged.threshold, "p_value": None},
                   "band": {"statistic": judged.band, "p_value": None},
                   "interval": {"statistic": est.lower, "p_value": None, "effect": est.upper}})



def set_calibration(store: StateStore, model: str, version: str, document: Any) -> None:
    """An explicit calibration for (model, version), from ``driftline reference set
    --target``: it replaces one taken from the version's first labelled predictions, which
    then no longer collects. ``ValueError`` if the document is not one."""
    from drift.estimation import Baseline, Calibration

    if not isinstance(document, dict):
        raise ValueError("calibration must be an object with 'calibration' and 'baseline'")
    try:
        Calibration.from_dict(document["calibration"])
        Baseline.from_dict(document["baseline"])
    except (KeyError, TypeError, ValueError, AssertionError) as error:
        raise ValueError(f"not a calibration: {error!r}") from None
    store.set(_key("cal", model, version), orjson.dumps(document))
    raw = store.get(_key("kh", model, version))
    head = CalibrationHead(**orjson.loads(raw)) if raw is not None else CalibrationHead()
    for n in range(head.chunks):
        store.delete(_key("kc", model, version, n))
    head.done, head.chunks = True, 0
    store.set(_key("kh", model, version), orjson.dumps(asdict(head)))

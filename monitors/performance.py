"""Windowed model quality on labelled predictions, a performance-drop rule and DDM.

The first window of labelled predictions of a (model, version) is its reference: its
metrics, and their spread over resamples of the window's size (the sampling band). Each
later window's metrics are judged by :class:`drift.performance.DropRule` — worse than the
reference by more than the band *and* by the minimum effect — and a drop raises a
``performance_drop`` drift event (with alert hygiene, like feature drift). DDM (River)
watches the stream of errors between windows.
"""

from __future__ import annotations

import math
import pickle
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import orjson
from river.drift.binary import DDM

from drift.hygiene import AlertPolicy, AlertState, step
from drift.performance import DropRule, classification_metrics, regression_metrics
from monitors import detector_state
from monitors.drift_monitor import (
    AlertSignal,
    MonitorOutput,
    StateStore,
    _event_id,
    category_text,
)
from monitors.estimation import CalibrationCollector, EstimationConfig
from monitors.state import SEP, Chunk, WindowBounds, concat_chunks
from schemas.events import DriftEvent, LabelledPredictionEvent, MetricEvent
from schemas.spec import SCHEMA_VERSION

KINDS = {"label": "categorical", "prediction": "categorical", "score": "numeric",
         "label_value": "numeric", "prediction_value": "numeric"}


@dataclass(frozen=True)
class PerformanceConfig:
    app_id: str = "driftline"
    window_size: int = 500
    #: significant (past the sampling band) and material (past the minimum drop)
    rule: DropRule = field(default_factory=DropRule)
    #: calibrate estimation on the first labelled pairs (None: no estimation)
    estimation: EstimationConfig | None = None
    alert_policy: AlertPolicy = field(default_factory=lambda: AlertPolicy(k=1, m=2))
    #: how many recent prediction ids are remembered to drop duplicates from a replay
    recent_ids: int = 2000


@dataclass
class PerformanceHead:
    model: str
    version: str
    task: str = ""  # "classification" or "regression", fixed by the first pair
    positive: str | None = None  # the class whose probability scores ROC AUC
    seq: int = 0
    last_offset: int = -1
    window: WindowBounds = field(default_factory=WindowBounds)
    reference: dict[str, float] = field(default_factory=dict)
    #: standard deviation of each metric over resamples of the reference at the window's size
    spread: dict[str, float] = field(default_factory=dict)
    hygiene: dict[str, list[Any]] = field(default_factory=dict)
    recent: list[str] = field(default_factory=list)
    stale: list[list[int]] = field(default_factory=list)
    errors_seen: int = 0
    ddm: str | None = None  # pickled River DDM, hex

    def encode(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def decode(cls, raw: bytes) -> PerformanceHead:
        data = orjson.loads(raw)
        data["window"] = WindowBounds(**data["window"])
        return cls(**data)


def _key(kind: str, *parts: object) -> bytes:
    return SEP.join(["q" + kind, *map(str, parts)]).encode()


class PerformanceMonitor:
    def __init__(self, store: StateStore, config: PerformanceConfig) -> None:
        self.store = store
        self.config = config
        self._detector: DDM | None = None

    def apply(self, model: str, version: str,
              batch: Sequence[tuple[int, LabelledPredictionEvent]]) -> MonitorOutput:
        """Apply (offset, pair) items in offset order."""
        raw = self.store.get(_key("h", model, version))
        head = PerformanceHead.decode(raw) if raw is not None else PerformanceHead(model, version)
        out = MonitorOutput()
        for window, count in head.stale:
            for n in range(count):
                self.store.delete(_key("c", model, version, window, n))
        head.stale = []
        recent = set(head.recent)
        self._detector = (detector_state.unpack(bytes.fromhex(head.ddm), pickle.loads,  # noqa: S301
                                                f"{head.model} v{head.version} DDM")
                          if head.ddm else None)
        resets = 1 if head.ddm and self._detector is None else 0
        pending: list[LabelledPredictionEvent] = []
        accepted: list[LabelledPredictionEvent] = []
        for offset, pair in batch:
            if offset <= head.last_offset:
                continue
            head.last_offset = offset
            if pair.event_id in recent:  # the join re-published it after a crash
                continue
            recent.add(pair.event_id)
            head.recent.append(pair.event_id)
            if not head.task:
                self._fix_task(head, pair)
            pending.append(pair)
            accepted.append(pair)
            head.window.add(head.seq, offset, pair.timestamp)
            head.seq += 1
            self._ddm(head, pair, out)
            if head.window.size >= self.config.window_size:
                out.extend(self._close(head, pending))
                pending = []
        head.recent = head.recent[-self.config.recent_ids:]
        if self._detector is not None:
            head.ddm = detector_state.pack(pickle.dumps(self._detector)).hex()
        if pending:
            self.store.set(_key("c", model, version, head.window.index, head.window.chunks),
                           self._chunk(head, pending).encode())
            head.window.chunks += 1
        if self.config.estimation is not None and head.task == "classification":
            CalibrationCollector(self.store, self.config.estimation).add(model, version, accepted)
        self.store.set(_key("h", model, version), head.encode())
        out.detector_resets += resets
        return out

    # -- pieces -------------------------------------------------------------------------------
    def _fix_task(self, head: PerformanceHead, pair: LabelledPredictionEvent) -> None:
        numeric = all(isinstance(v, int | float) and not isinstance(v, bool)
                      for v in (pair.label, pair.prediction))
        head.task = "regression" if numeric and not pair.probabilities else "classification"
        if pair.probabilities and len(pair.probabilities) == 2:
            head.positive = sorted(pair.probabilities)[-1]

    def _is_error(self, head: PerformanceHead, pair: LabelledPredictionEvent) -> bool:
        if head.task == "classification":
            return category_text(pair.label) != category_text(pair.prediction)
        reference_mae = head.reference.get("mae")
        return (reference_mae is not None
                and abs(float(pair.prediction) - float(pair.label)) > 2 * reference_mae)

    def _ddm(self, head: PerformanceHead, pair: LabelledPredictionEvent, out: MonitorOutput) -> None:
        if not head.reference:  # DDM starts once the reference window fixed the baseline
            return
        if self._detector is None:
            self._detector = DDM()
        ddm = self._detector
        ddm.update(self._is_error(head, pair))
        head.errors_seen += 1
        if ddm.drift_detected:
            bounds = WindowBounds()
            bounds.add(head.seq - 1, head.last_offset, pair.timestamp)
            out.drift_events.append(DriftEvent(
                event_id=_event_id(self.config.app_id, "q", head.model, head.version, "ddm",
                                   head.errors_seen),
                schema_version=SCHEMA_VERSION, model_name=head.model,
                model_version=head.version, timestamp=pair.timestamp, kind="performance_drop",
                feature="error_rate", test="ddm", statistic=float(head.errors_seen),
                p_value=None, drifted=True, window_start_seq=bounds.start_seq,
                window_end_seq=bounds.end_seq, window_start_offset=bounds.start_offset,
                window_end_offset=bounds.end_offset, window_start_time=bounds.start_time,
                window_end_time=bounds.end_time, reference_size=self.config.window_size,
                current_size=head.errors_seen, severity="medium"))

    def _chunk(self, head: PerformanceHead, pairs: Sequence[LabelledPredictionEvent]) -> Chunk:
        def score(p: LabelledPredictionEvent) -> float:
            if head.positive is None or not p.probabilities:
                return math.nan
            return float(p.probabilities.get(head.positive, math.nan))

        def number(v: Any) -> float:
            return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else math.nan

        return Chunk(
            numeric={"score": np.array([score(p) for p in pairs]),
                     "label_value": np.array([number(p.label) for p in pairs]),
                     "prediction_value": np.array([number(p.prediction) for p in pairs])},
            categorical={"label": [category_text(p.label) for p in pairs],
                         "prediction": [category_text(p.prediction) for p in pairs]})

    def _metrics(self, head: PerformanceHead, values: Chunk) -> dict[str, float]:
        if head.task == "regression":
            return regression_metrics(values.numeric["label_value"],
                                      values.numeric["prediction_value"])
        scores = values.numeric["score"]
        return classification_metrics(
            np.array(values.categorical["label"], dtype=object),
            np.array(values.categorical["prediction"], dtype=object),
            positive_scores=None if np.isnan(scores).any() else scores,
            positive=head.positive)

    def _close(self, head: PerformanceHead, pending: Sequence[LabelledPredictionEvent]) -> MonitorOutput:
        chunks = []
        for n in range(head.window.chunks):
            raw = self.store.get(_key("c", head.model, head.version, head.window.index, n))
            if raw is None:  # pragma: no cover - written before the head that counts it
                raise LookupError(f"performance chunk {n} is missing")
            chunks.append(Chunk.decode(raw))
        if head.window.chunks:
            head.stale.append([head.window.index, head.window.chunks])
        chunks.append(self._chunk(head, pending))
        values = concat_chunks(chunks, KINDS)
        bounds = head.window
        metrics = self._metrics(head, values)
        out = MonitorOutput()
        first = not head.reference
        changed: dict[str, list[DriftEvent]] = {"fired": [], "recovered": []}
        for name, value in metrics.items():
            reference = value if first else head.reference.get(name)
            out.metrics.append(MetricEvent(
                event_id=_event_id(self.config.app_id, "q", head.model, head.version,
                                   bounds.index, name),
                schema_version=SCHEMA_VERSION, model_name=head.model, model_version=head.version,
                timestamp=bounds.end_time, metric=name, value=value, sample_size=bounds.size,
                window_start_seq=bounds.start_seq, window_end_seq=bounds.end_seq,
                window_start_time=bounds.start_time, window_end_time=bounds.end_time,
                reference_value=reference))
            if not first and reference is not None:
                event = self._judge(head, bounds, name, value, reference)
                if event is not None:
                    out.drift_events.append(event)
                    if event.alert in changed:
                        changed[event.alert].append(event)
        # one message per window and outcome, however many metrics it names
        out.alerts.extend(AlertSignal("performance_drop", outcome, tuple(events))
                          for outcome, events in changed.items() if events)
        if first:
            head.reference = metrics
            head.spread = self._spread(head, values)
        head.window = WindowBounds(index=bounds.index + 1)
        return out

    def _spread(self, head: PerformanceHead, values: Chunk) -> dict[str, float]:
        """Each metric's standard deviation over resamples of the reference window."""
        from drift.estimation import classification_baseline, regression_baseline

        size = self.config.window_size
        if head.task == "regression":
            return dict(regression_baseline(values.numeric["label_value"],
                                            values.numeric["prediction_value"], size).spread)
        labels, predictions = values.categorical["label"], values.categorical["prediction"]
        classes = sorted({str(v) for v in [*labels, *predictions]})
        positive = head.positive if head.positive is not None else (
            classes[-1] if len(classes) <= 2 else None)
        if positive is not None and positive not in classes:
            classes.append(positive)
        index = {c: i for i, c in enumerate(classes)}
        scores = values.numeric["score"]
        baseline = classification_baseline(
            np.array([index[str(v)] for v in labels]), np.array([index[str(v)] for v in predictions]),
            None if positive is None or np.isnan(scores).any() else scores, len(classes),
            None if positive is None else index[positive], size)
        return dict(baseline.spread)

    def _judge(self, head: PerformanceHead, bounds: WindowBounds, metric: str, value: float,
               reference: float) -> DriftEvent | None:
        judged = self.config.rule.judge(metric, value, reference, head.spread.get(metric, 0.0))
        dropped = judged.dropped
        history, active = head.hygiene.get(metric, [[], False])
        state, outcome = step(AlertState(tuple(history), active), dropped, self.config.alert_policy)
        head.hygiene[metric] = [list(state.history), state.active]
        if not dropped and outcome != "recovered":
            return None
        return DriftEvent(
            event_id=_event_id(self.config.app_id, "q", head.model, head.version, bounds.index,
                               metric),
            schema_version=SCHEMA_VERSION, model_name=head.model, model_version=head.version,
            timestamp=bounds.end_time,
            kind="recovered" if outcome == "recovered" else "performance_drop",
            feature=metric, test="drop_rule", statistic=value, p_value=None, drifted=dropped,
            window_start_seq=bounds.start_seq, window_end_seq=bounds.end_seq,
            window_start_offset=bounds.start_offset, window_end_offset=bounds.end_offset,
            window_start_time=bounds.start_time, window_end_time=bounds.end_time,
            reference_size=self.config.window_size, current_size=bounds.size,
            effect=judged.drop, severity=judged.severity, alert=outcome,
            tests={"drop_rule": {"statistic": judged.drop, "p_value": None,
                                 "effect": judged.drop, "drifted": dropped},
                   "reference": {"statistic": reference, "p_value": None},
                   "threshold": {"statistic": judged.threshold, "p_value": None},
                   "band": {"statistic": judged.band, "p_value": None}})


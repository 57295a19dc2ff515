"""Joining delayed labels to predictions by the prediction's ``event_id``, with a TTL.

State per model, on a disk-backed table (a week of predictions does not fit in memory):

* ``j|<prediction id>``: the prediction, held until its label arrives or the TTL passes;
* ``l|<prediction id>``: a label that arrived before its prediction, held for a grace period;
* index chunks ``ji|model|hour|n`` / ``li|model|hour|n``: which ids arrived in which hour, so
  expiry deletes them without scanning the table;
* a head ``J|model``: source offsets applied per topic (idempotent replays), the event-time
  watermark, and the index's hours.

Time is event time — the watermark is the newest *prediction* time seen, so one label with a
wrong clock cannot expire a week of predictions — which makes expiry deterministic: replays
expire the same entries. Expiry works at hour granularity: an entry lives between TTL and
TTL + 1 hour.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson

from monitors.drift_monitor import StateStore
from schemas.reasons import Reason

SEP = "|"


def _hour(ts: datetime) -> str:
    return ts.strftime("%Y%m%d%H")


@dataclass(frozen=True)
class JoinConfig:
    ttl: timedelta = timedelta(days=7)
    #: how long a label may wait for a prediction that has not arrived yet
    grace: timedelta = timedelta(hours=1)


@dataclass
class JoinHead:
    model: str
    prediction_offset: int = -1
    label_offset: int = -1
    watermark: str = ""
    predictions_index: dict[str, int] = field(default_factory=dict)  # hour -> chunk count
    labels_index: dict[str, int] = field(default_factory=dict)

    def encode(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def decode(cls, raw: bytes) -> JoinHead:
        return cls(**orjson.loads(raw))


@dataclass(frozen=True)
class SourceRef:
    """Where an input message came from, so it can be dead-lettered whole later."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes


@dataclass(frozen=True)
class PredictionIn:
    source: SourceRef
    event_id: str
    model_version: str
    timestamp: str
    prediction: Any
    probabilities: dict[str, float] | None
    features: dict[str, Any] | None


@dataclass(frozen=True)
class LabelIn:
    source: SourceRef
    event_id: str
    prediction_event_id: str
    timestamp: str
    label: Any
    prediction_timestamp: str | None = None


@dataclass(frozen=True)
class Joined:
    prediction_event_id: str
    model: str
    model_version: str
    prediction_time: str
    label_time: str
    prediction: Any
    probabilities: dict[str, float] | None
    features: dict[str, Any] | None
    label: Any


@dataclass(frozen=True)
class Rejected:
    source: SourceRef
    reason: str
    code: Reason = Reason.JOIN_EXPIRED


@dataclass
class JoinOutput:
    joined: list[Joined] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)


def _key(*parts: str) -> bytes:
    return SEP.join(parts).encode()


def _ref_dict(ref: SourceRef) -> dict[str, Any]:
    return {"topic": ref.topic, "partition": ref.partition, "offset": ref.offset,
            "key": base64.b64encode(ref.key).decode() if ref.key is not None else None,
            "value": base64.b64encode(ref.value).decode()}


def _ref_from(d: dict[str, Any]) -> SourceRef:
    return SourceRef(d["topic"], d["partition"], d["offset"],
                     base64.b64decode(d["key"]) if d["key"] is not None else None,
                     base64.b64decode(d["value"]))


class LabelJoin:
    def __init__(self, store: StateStore, config: JoinConfig) -> None:
        self.store = store
        self.config = config

    def _head(self, model: str) -> JoinHead:
        raw = self.store.get(_key("J", model))
        return JoinHead.decode(raw) if raw is not None else JoinHead(model=model)

    def _save(self, head: JoinHead) -> None:
        self.store.set(_key("J", head.model), head.encode())

    def _index(self, head: JoinHead, which: str, ids_by_hour: dict[str, list[str]]) -> None:
        index = head.predictions_index if which == "ji" else head.labels_index
        for hour, ids in ids_by_hour.items():
            n = index.get(hour, 0)
            self.store.set(_key(which, head.model, hour, str(n)), orjson.dumps(ids))
            index[hour] = n + 1

    # -- predictions -----------------------------------------------------------------------
    def add_predictions(self, model: str, batch: Sequence[PredictionIn]) -> JoinOutput:
        head = self._head(model)
        out = JoinOutput()
        new: dict[str, list[str]] = {}
        for p in batch:
            if p.source.offset <= head.prediction_offset:
                continue
            head.prediction_offset = p.source.offset
            when = datetime.fromisoformat(p.timestamp)
            if not head.watermark or when > datetime.fromisoformat(head.watermark):
                head.watermark = when.isoformat()
            if self.store.get(_key("j", p.event_id)) is not None:
                out.rejected.append(Rejected(p.source, "duplicate prediction event_id",
                                                Reason.JOIN_DUPLICATE))
                continue
            entry = {"model": model, "version": p.model_version, "time": p.timestamp,
                     "prediction": p.prediction, "probabilities": p.probabilities,
                     "features": p.features}
            waiting = self.store.get(_key("l", p.event_id))
            if waiting is not None:
                label = orjson.loads(waiting)
                self.store.delete(_key("l", p.event_id))
                out.joined.append(self._joined(p.event_id, entry, label["label"], label["time"]))
                continue
            self.store.set(_key("j", p.event_id), orjson.dumps(entry))
            new.setdefault(_hour(when), []).append(p.event_id)
        self._index(head, "ji", new)
        out.rejected.extend(self._expire(head))
        self._save(head)
        return out

    # -- labels ----------------------------------------------------------------------------
    def add_labels(self, model: str, batch: Sequence[LabelIn]) -> JoinOutput:
        head = self._head(model)
        out = JoinOutput()
        new: dict[str, list[str]] = {}
        cutoff = self._cutoff(head, self.config.ttl)  # labels do not move the watermark
        for label in batch:
            if label.source.offset <= head.label_offset:
                continue
            head.label_offset = label.source.offset
            raw = self.store.get(_key("j", label.prediction_event_id))
            if raw is not None:
                entry = orjson.loads(raw)
                self.store.delete(_key("j", label.prediction_event_id))
                out.joined.append(self._joined(label.prediction_event_id, entry, label.label,
                                               label.timestamp))
                continue
            if (cutoff is not None and label.prediction_timestamp is not None
                    and datetime.fromisoformat(label.prediction_timestamp) < cutoff):
                out.rejected.append(Rejected(label.source, self._expired_reason()))
                continue
            if self.store.get(_key("l", label.prediction_event_id)) is not None:
                out.rejected.append(Rejected(label.source,
                                             "a label for this prediction is already waiting",
                                             Reason.JOIN_DUPLICATE))
                continue
            self.store.set(_key("l", label.prediction_event_id), orjson.dumps({
                "label": label.label, "time": label.timestamp,
                "source": _ref_dict(label.source)}))
            # A waiting label is indexed by when its prediction must have been made: the
            # prediction's time if the label says it, else the label's own (a label follows its
            # prediction). Once predictions that much newer have been seen, its prediction is
            # not coming. Indexing by the watermark instead would expire labels that are merely
            # consumed ahead of their predictions' topic.
            since = label.prediction_timestamp or label.timestamp
            new.setdefault(_hour(datetime.fromisoformat(since)), []).append(
                label.prediction_event_id)
        self._index(head, "li", new)
        out.rejected.extend(self._expire(head))
        self._save(head)
        return out

    # -- expiry ----------------------------------------------------------------------------
    def _cutoff(self, head: JoinHead, age: timedelta) -> datetime | None:
        return datetime.fromisoformat(head.watermark) - age if head.watermark else None

    def _expired_reason(self) -> str:
        days = self.config.ttl.total_seconds() / 86400
        return f"label arrived after the prediction's {days:g}-day join TTL expired"

    def _expire(self, head: JoinHead) -> list[Rejected]:
        rejected: list[Rejected] = []
        ttl_cut = self._cutoff(head, self.config.ttl)
        grace_cut = self._cutoff(head, self.config.grace)
        if ttl_cut is None or grace_cut is None:
            return rejected
        for hour in sorted(h for h in head.predictions_index if h < _hour(ttl_cut)):
            for n in range(head.predictions_index.pop(hour)):
                chunk_key = _key("ji", head.model, hour, str(n))
                for pid in orjson.loads(self.store.get(chunk_key) or b"[]"):
                    self.store.delete(_key("j", pid))
                self.store.delete(chunk_key)
        for hour in sorted(h for h in head.labels_index if h < _hour(grace_cut)):
            for n in range(head.labels_index.pop(hour)):
                chunk_key = _key("li", head.model, hour, str(n))
                for pid in orjson.loads(self.store.get(chunk_key) or b"[]"):
                    raw = self.store.get(_key("l", pid))
                    if raw is None:  # joined meanwhile
                        continue
                    waiting = orjson.loads(raw)
                    rejected.append(Rejected(
                        _ref_from(waiting["source"]),
                        "no prediction with this event_id arrived within the join window "
                        f"(unknown, or older than the {self.config.ttl.days}-day TTL)"))
                    self.store.delete(_key("l", pid))
                self.store.delete(chunk_key)
        return rejected

    @staticmethod
    def _joined(pid: str, entry: dict[str, Any], label: Any, label_time: str) -> Joined:
        return Joined(prediction_event_id=pid, model=entry["model"], model_version=entry["version"],
                      prediction_time=entry["time"], label_time=label_time,
                      prediction=entry["prediction"], probabilities=entry["probabilities"],
                      features=entry["features"], label=label)

"""The per-(model, version) monitor: reference, windows, drift tests, alert hygiene, online
detectors.

It is written against a tiny key-value :class:`StateStore` so the same code runs on a faust
table in the worker and on a dict in unit tests. Applying a batch is idempotent: events at or
below the head's ``last_offset`` were already applied and are skipped, and everything the
batch writes is keyed by what the head says, so a replay after a crash rewrites the same keys
and produces the same results (with the same deterministic event ids).
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import numpy as np
import orjson

import drift
from drift.detectors import Detection, OnlineDetectors, reference_sample
from drift.hygiene import AlertPolicy, AlertState, step
from monitors import detector_state
from monitors.buffered import BufferedStore
from monitors.columns import Columns, category_text, is_number
from monitors.staging import CHUNK_BYTES, Staging, staged_events
from monitors.state import (
    Chunk,
    ModelHead,
    WindowBounds,
    chunk_key,
    concat_chunks,
    head_key,
    reference_key,
    reference_piece_key,
)
from monitors.state import Observation as Observation  # its home before staging stored it
from schemas.events import DriftEvent, MetricEvent
from schemas.spec import SCHEMA_VERSION

log = logging.getLogger(__name__)
NAMESPACE = uuid.UUID("5b0d7c8e-4d52-4a55-9a53-6472696674c1")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class StateStore(Protocol):
    def get(self, key: bytes) -> bytes | None: ...
    def set(self, key: bytes, value: bytes) -> None: ...
    def delete(self, key: bytes) -> None: ...


@dataclass(frozen=True)
class MonitorConfig:
    app_id: str = "driftline"
    #: "f" for features, "p" for predictions: keeps the two monitors' keys apart
    namespace: str = "f"
    kind: str = "data_drift"
    reference_size: int = 1000
    window_mode: str = "count"  # "count" or "time"
    window_size: int = 1000
    window_seconds: float = 300.0
    allowed_lateness_seconds: float = 60.0
    min_window_events: int = 30
    psi_bins: int = 10
    policy: drift.DriftPolicy = field(default_factory=drift.DriftPolicy)
    alert_policy: AlertPolicy = field(default_factory=AlertPolicy)
    detectors: tuple[str, ...] = ("adwin", "page_hinkley")
    #: each detector is calibrated on the reference to this many false alarms per 100k events
    detector_budget: float = 1.0
    #: numeric features whose per-window mean and variance are published as metrics
    metric_features: tuple[str, ...] = ()
    #: a sharded model's source partitions: its events are applied in merged event-time order,
    #: each once every one of them has been heard from past it (monitors/staging.py)
    shard_partitions: frozenset[int] = frozenset()
    #: the share of events monitored (sampling): published with each result
    sample_rate: float = 1.0

    def __post_init__(self) -> None:
        if self.window_mode not in ("count", "time"):
            raise ValueError(f"window_mode must be 'count' or 'time', got {self.window_mode!r}")


@dataclass(frozen=True)
class AlertSignal:
    """An alert a monitor decided on — the features (or metrics) of one window that fired or
    recovered together. Its text and de-duplication key are governance's
    (:func:`governance.alerts.render`), not the monitor's."""

    kind: str  # data_drift, model_drift, performance_drop or estimated_performance_drop
    outcome: str  # fired or recovered
    events: tuple[DriftEvent, ...]
    #: the k-of-m rule that fired it (drift alerts say it in their text)
    k: int = 0
    m: int = 0


@dataclass
class MonitorOutput:
    drift_events: list[DriftEvent] = field(default_factory=list)
    alerts: list[AlertSignal] = field(default_factory=list)
    metrics: list[MetricEvent] = field(default_factory=list)
    #: online-detector states that could not be read and were started afresh
    detector_resets: int = 0
    #: released observations that raised when applied: (observation, model version, what it
    #: raised); the agent dead-letters them (see :meth:`FeatureMonitor.apply`)
    quarantined: list[tuple[Observation, str, str]] = field(default_factory=list)
    #: (model, version) -> observations a sharded model holds back after this batch (None:
    #: the version was forgotten)
    staged: dict[tuple[str, str], int | None] = field(default_factory=dict)

    def extend(self, other: MonitorOutput) -> None:
        self.drift_events.extend(other.drift_events)
        self.alerts.extend(other.alerts)
        self.metrics.extend(other.metrics)
        self.detector_resets += other.detector_resets
        self.quarantined.extend(other.quarantined)
        self.staged.update(other.staged)


def _event_id(*parts: object) -> str:
    return str(uuid.uuid5(NAMESPACE, "|".join(str(p) for p in parts)))


class DecodedCache:
    """Decoded state kept between batches, valid only while the stored bytes are unchanged.

    A monitor is built per batch, and decoding a reference profile or unpickling the online
    detectors every batch cost ~5 % of the worker's time. An entry is used only when the bytes
    now in the store equal the bytes it was decoded from, so a rebalance, a changelog
    recovery or a batch that failed before its state was written simply decodes again.
    Bounded (least recently used out) so memory does not grow with the number of models.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[bytes, tuple[bytes, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: bytes, raw: bytes) -> Any | None:
        with self._lock:
            hit = self._items.get(key)
            if hit is None or not (hit[0] is raw or hit[0] == raw):
                return None
            self._items.move_to_end(key)
            return hit[1]

    def take(self, key: bytes, raw: bytes) -> Any | None:
        """Remove and return the entry, for a caller that will mutate it (and ``put`` it back
        with the bytes it then stores): a failure halfway leaves no half-updated entry."""
        with self._lock:
            hit = self._items.pop(key, None)
        return hit[1] if hit is not None and (hit[0] is raw or hit[0] == raw) else None

    def put(self, key: bytes, raw: bytes, value: Any) -> None:
        with self._lock:
            self._items[key] = (raw, value)
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)


#: a reference stored in pieces: its own value is this, then JSON {"pieces": n, "digest": ...}
_PIECES = b"DLRP1"


def _piece_count(raw: bytes) -> int:
    """How many pieces a reference value names (0: it is the whole reference)."""
    return orjson.loads(raw[len(_PIECES):])["pieces"] if raw.startswith(_PIECES) else 0


def _head(raw: bytes | None, model: str, version: str, partition: int) -> ModelHead:
    """The stored head of (model, version), or a new one read first from ``partition``."""
    return (ModelHead.decode(raw) if raw is not None
            else ModelHead(model=model, version=version, partition=partition))

#: (model, version) pairs whose decoded references and detectors stay warm in one worker
_REFERENCES = DecodedCache(256)
_DETECTORS = DecodedCache(256)


class FeatureMonitor:
    """Applies batches of observations for one (model, version) to the state store."""

    def __init__(self, store: StateStore, config: MonitorConfig) -> None:
        self.store = store
        self.config = config
        self.ns = config.namespace
        #: detector states found unreadable and started afresh (the agent counts them)
        self.detector_resets = 0
        self._staging = Staging(store, self.ns, config.shard_partitions)

    # -- public -----------------------------------------------------------------------------
    def apply(self, model: str, version: str, batch: Sequence[Observation]) -> MonitorOutput:
        """Apply ``batch`` (in offset order); return what windows that closed produced."""
        key = head_key(self.ns, model, version)
        raw_head = self.store.get(key)
        head = _head(raw_head, model, version, batch[0].partition)
        fresh = [o for o in batch if o.offset > head.applied(o.partition)]
        if not fresh:
            return MonitorOutput()
        if not (self.config.shard_partitions or head.staged):
            return self._apply(key, head, fresh, isolate=False)
        # A sharded model's events are applied in merged event-time order, not as they came
        # (and what a model no longer sharded had staged, before its new events). What is
        # released now may have been staged by an earlier batch, so an event that cannot be
        # applied is not necessarily in this one: the agent's one-event-at-a-time retry could
        # not find it, and every later batch releasing it would fail. So the monitor finds it
        # itself: on a failure it applies the batch again from the same state, releasing one
        # observation at a time, and quarantines the one(s) that raise (``out.quarantined``:
        # the agent dead-letters them with their values before the state is committed).
        base = self.store
        trial = BufferedStore(base)
        self._use(trial)
        try:
            out = self._apply(key, head, fresh, isolate=False)
        except Exception:
            log.exception("applying %d event(s) of %s v%s failed; isolating the one(s) that fail",
                          len(fresh), model, version)
            trial = BufferedStore(base)
            self._use(trial)
            self.detector_resets = 0
            head = _head(raw_head, model, version, batch[0].partition)
            out = self._apply(key, head, fresh, isolate=True)
        finally:
            self._use(base)
        trial.commit()
        return out

    def _use(self, store: StateStore) -> None:
        self.store = store
        self._staging.store = store

    def _apply(self, key: bytes, head: ModelHead, fresh: Sequence[Observation], *,
               isolate: bool) -> MonitorOutput:
        out = MonitorOutput()
        self._delete_stale(head)
        admitted = self._admit(head, fresh)
        if self.config.shard_partitions or head.staged:
            admitted = self._staging.release(head, admitted)
            out.staged[(head.model, head.version)] = staged_events(head)
        if isolate:
            head = self._feed_each(head, admitted, out)
        else:
            self._feed(head, admitted, out)
        out.detector_resets += self.detector_resets
        self.detector_resets = 0
        self.store.set(key, head.encode())
        return out

    def _feed_each(self, head: ModelHead, observations: Sequence[Observation],
                   out: MonitorOutput) -> ModelHead:
        """:meth:`_feed` one observation at a time (which decides as one batch does), each on
        a layer of its own, quarantining those that raise; returns the head to store."""
        base = self.store
        for obs in observations:
            before, resets = head.encode(), self.detector_resets
            layer = BufferedStore(base)
            part = MonitorOutput()
            self._use(layer)
            try:
                self._feed(head, [obs], part)
            except Exception as exc:
                log.exception("quarantining %s v%s event at %s@%s (%s)", head.model,
                              head.version, obs.partition, obs.offset, obs.timestamp)
                head, self.detector_resets = ModelHead.decode(before), resets
                out.quarantined.append((obs, head.version, repr(exc)[:800]))
                continue
            finally:
                self._use(base)
            layer.commit()
            out.extend(part)
        return head

    def _admit(self, head: ModelHead, fresh: Sequence[Observation]) -> list[Observation]:
        """Mark ``fresh`` applied; return it without what was counted already."""
        admitted = []
        for obs in fresh:
            if obs.offset <= head.applied(obs.partition):
                continue  # a reducer's batch may hold a shard's replayed events twice
            head.mark_applied(obs.partition, obs.offset)
            if obs.origin is not None:
                # copies of one source partition arrive in its offset order (in each partition
                # they were copied to); a second copy of an original (redelivered after a
                # crash, so re-sent) is not counted again
                source, source_offset = str(obs.origin[0]), obs.origin[1]
                if obs.partition != head.partition:
                    source = f"{obs.partition}:{source}"
                if source_offset <= head.rerouted.get(source, -1):
                    head.duplicate_copies += 1
                    continue
                head.rerouted[source] = source_offset
            admitted.append(obs)
        return admitted

    def _feed(self, head: ModelHead, observations: Sequence[Observation],
              out: MonitorOutput) -> None:
        """Apply admitted observations in order: reference, windows, detectors."""
        reference: list[Observation] = []  # reference events of this batch, until frozen
        pending: dict[int, list[int]] = {}  # open window -> its rows of ``columns``
        monitored: list[tuple[int, int]] = []  # (seq, row) online detectors see, in order
        columns: Columns | None = None  # the batch's values from the first monitored event
        first = 0
        for position, obs in enumerate(observations):
            seq = head.seq
            head.seq += 1
            if head.phase == "reference":
                reference.append(obs)
                head.reference.add(seq, obs.offset, obs.timestamp)
                if head.reference.size >= self.config.reference_size:
                    self._freeze_reference(head, reference)
                    reference = []
                continue
            if columns is None:  # kinds are frozen from here to the end of the batch
                first = position
                columns = Columns.build([o.features for o in observations[first:]], head.kinds)
            row = position - first
            monitored.append((seq, row))
            index = self._assign(head, obs)
            if index is None:
                head.late_events += 1
                continue
            pending.setdefault(index, []).append(row)
            head.windows[str(index)].add(seq, obs.offset, obs.timestamp)
            head.max_time = max(head.max_time, obs.timestamp)
            for closing in self._closable(head):
                out.extend(self._close_window(head, closing, columns, pending.pop(closing, [])))
        if reference:
            self._write_chunk(head, -1, _reference_chunk(reference))
        if columns is not None:
            for index, rows in pending.items():
                self._write_chunk(head, index, self._window_chunk(head, columns, rows))
            out.drift_events.extend(self._run_detectors(head, observations[first:], columns,
                                                        monitored))

    def set_reference(self, model: str, version: str, partition: int,
                      profiles: Mapping[str, drift.Profile], reference_id: str) -> bool:
        """Freeze an explicit reference (from ``reference-profiles``) for (model, version);
        False when this reference was applied already."""
        key = head_key(self.ns, model, version)
        raw_head = self.store.get(key)
        head = _head(raw_head, model, version, partition)
        if head.reference_id == reference_id:
            return False
        head.reference_id = reference_id
        self._delete_stale(head)
        if head.phase == "reference" and head.reference.chunks:
            head.stale.append([-1, head.reference.chunks])
        head.reference = WindowBounds(index=-1)
        self._store_reference(head, dict(profiles))
        self.store.set(key, head.encode())
        return True

    def forget(self, model: str, version: str) -> None:
        """Delete every key of (model, version): its head, chunks and reference."""
        raw_head = self.store.get(head_key(self.ns, model, version))
        if raw_head is None:
            return
        head = ModelHead.decode(raw_head)
        self._delete_stale(head)
        self._staging.forget(head)
        for bounds in [head.reference, *head.windows.values()]:
            for n in range(bounds.chunks):
                self.store.delete(chunk_key(self.ns, model, version, bounds.index, n))
        self._delete_reference_pieces(model, version)
        self.store.delete(reference_key(self.ns, model, version))
        self.store.delete(head_key(self.ns, model, version))

    # -- windows ----------------------------------------------------------------------------
    def _assign(self, head: ModelHead, obs: Observation) -> int | None:
        """The open window ``obs`` belongs to (opening it if needed); None if it is late."""
        if self.config.window_mode == "count":
            if not head.windows:
                head.windows[str(head.next_index)] = WindowBounds(index=head.next_index)
                head.next_index += 1
            return int(next(iter(head.windows)))
        when = datetime.fromisoformat(obs.timestamp)
        index = int((when - EPOCH).total_seconds() // self.config.window_seconds)
        if head.closed_upto and self._window_end(index) <= datetime.fromisoformat(head.closed_upto):
            return None
        head.windows.setdefault(str(index), WindowBounds(index=index))
        return index

    def _window_end(self, index: int) -> datetime:
        return EPOCH + timedelta(seconds=(index + 1) * self.config.window_seconds)

    def _closable(self, head: ModelHead) -> list[int]:
        if self.config.window_mode == "count":
            return [int(k) for k, w in head.windows.items() if w.size >= self.config.window_size]
        # a sharded model's observations come in merged event-time order, released up to the
        # merged watermark (monitors/staging.py): its latest is the unsharded model's too
        latest = head.max_time
        if not latest:
            return []
        watermark = datetime.fromisoformat(latest) - timedelta(
            seconds=self.config.allowed_lateness_seconds)
        due = sorted(int(k) for k in head.windows if self._window_end(int(k)) <= watermark)
        if due:
            head.closed_upto = max(head.closed_upto or "", self._window_end(due[-1]).isoformat())
        return due

    def _window_chunk(self, head: ModelHead, columns: Columns, rows: Sequence[int]) -> Chunk:
        """The values of ``rows`` for a window, counting what they hold that does not fit."""
        wrong, unknown = columns.counts(rows)
        head.type_mismatches += wrong
        head.unknown_features += unknown
        return columns.chunk(rows)

    def _bounds(self, head: ModelHead, index: int) -> WindowBounds:
        return head.reference if index == -1 else head.windows[str(index)]

    def _write_chunk(self, head: ModelHead, index: int, chunk: Chunk) -> None:
        bounds = self._bounds(head, index)
        for piece in chunk.encoded_pieces(CHUNK_BYTES):  # a wide model's batch in several
            self.store.set(chunk_key(self.ns, head.model, head.version, index, bounds.chunks),
                           piece)
            bounds.chunks += 1

    def _take_chunks(self, head: ModelHead, bounds: WindowBounds) -> list[Chunk]:
        chunks = []
        for n in range(bounds.chunks):
            raw = self.store.get(chunk_key(self.ns, head.model, head.version, bounds.index, n))
            if raw is None:  # pragma: no cover - written before the head that counts it
                raise LookupError(f"chunk {n} of window {bounds.index} is missing")
            chunks.append(Chunk.decode(raw))
        if bounds.chunks:
            head.stale.append([bounds.index, bounds.chunks])
        return chunks

    def _delete_stale(self, head: ModelHead) -> None:
        for window, count in head.stale:
            for n in range(count):
                self.store.delete(chunk_key(self.ns, head.model, head.version, window, n))
        head.stale = []
        self._staging.delete_released(head)

    # -- reference --------------------------------------------------------------------------
    def _freeze_reference(self, head: ModelHead, pending: Sequence[Observation]) -> None:
        chunks = self._take_chunks(head, head.reference)
        chunks.append(_reference_chunk(pending))
        kinds = _infer_kinds(chunks)
        merged = _merge_reference(chunks, kinds)
        profiles = {
            name: drift.build_profile(
                merged.numeric[name] if kind == "numeric" else merged.categorical[name],
                kind, bins=self.config.psi_bins,  # type: ignore[arg-type]
            )
            for name, kind in kinds.items()
        }
        self._store_reference(head, profiles)

    def _store_reference(self, head: ModelHead, profiles: dict[str, drift.Profile]) -> None:
        # ≈ 40 KB per numeric feature (its quantile sketch): past ≈ 25 features one value
        # would exceed the broker's message limit (1 MB), so a large one goes in pieces
        key = reference_key(self.ns, head.model, head.version)
        payload = orjson.dumps(drift.profiles_to_dict(profiles))
        self._delete_reference_pieces(head.model, head.version)  # of a reference replaced
        if len(payload) <= CHUNK_BYTES:
            self.store.set(key, payload)
        else:
            pieces = range(0, len(payload), CHUNK_BYTES)
            for n, start in enumerate(pieces):
                self.store.set(reference_piece_key(self.ns, head.model, head.version, n),
                               payload[start:start + CHUNK_BYTES])
            # the digest makes the value differ whenever the pieces do (decoded-cache key)
            self.store.set(key, _PIECES + orjson.dumps(
                {"pieces": len(pieces), "digest": hashlib.blake2b(payload, digest_size=16)
                 .hexdigest()}))
        head.kinds = {name: p.kind for name, p in profiles.items()}
        head.phase = "monitoring"
        numeric = {name: p for name, p in profiles.items() if isinstance(p, drift.NumericProfile)}
        scales = {name: (p.mean, p.std) for name, p in numeric.items()}
        head.detectors = (detector_state.pack(OnlineDetectors(
            self.config.detectors, scales,
            {name: reference_sample(p) for name, p in numeric.items()},
            self.config.detector_budget).dumps()) if self.config.detectors and scales else None)

    def _reference(self, head: ModelHead) -> dict[str, drift.Profile]:
        key = reference_key(self.ns, head.model, head.version)
        raw = self.store.get(key)
        if raw is None:  # pragma: no cover - the head says monitoring only once it is written
            raise LookupError(f"no reference for {head.model}/{head.version}")
        profiles = _REFERENCES.get(key, raw)
        if profiles is None:
            payload = raw
            if raw.startswith(_PIECES):
                payload = b"".join(self._reference_pieces(head.model, head.version, raw))
            profiles = drift.profiles_from_dict(orjson.loads(payload))
            _REFERENCES.put(key, raw, profiles)
        return profiles

    def _reference_pieces(self, model: str, version: str, manifest: bytes) -> list[bytes]:
        pieces = []
        for n in range(_piece_count(manifest)):
            piece = self.store.get(reference_piece_key(self.ns, model, version, n))
            if piece is None:  # pragma: no cover - written before the value that counts them
                raise LookupError(f"piece {n} of the reference of {model}/{version} is missing")
            pieces.append(piece)
        return pieces

    def _delete_reference_pieces(self, model: str, version: str) -> None:
        raw = self.store.get(reference_key(self.ns, model, version))
        for n in range(_piece_count(raw) if raw is not None else 0):
            self.store.delete(reference_piece_key(self.ns, model, version, n))

    # -- closing a window -------------------------------------------------------------------
    def _close_window(self, head: ModelHead, index: int, columns: Columns,
                      rows: Sequence[int]) -> MonitorOutput:
        bounds = head.windows.pop(str(index))
        chunks = self._take_chunks(head, bounds)
        if rows:
            chunks.append(self._window_chunk(head, columns, rows))
        current = concat_chunks(chunks, head.kinds)
        out = MonitorOutput()
        if bounds.size < self.config.min_window_events:
            return out
        reference = self._reference(head)
        values: dict[str, Any] = {**current.numeric, **current.categorical}
        report = drift.compare(reference, values, self.config.policy)
        late = head.late_events - head.late_reported
        head.late_reported = head.late_events
        changed: dict[str, list[DriftEvent]] = {"fired": [], "recovered": []}
        for feature in report.features:
            outcome = self._hygiene(head, feature.name, feature.drifted)
            event = self._event(head, bounds, feature, outcome, late)
            out.drift_events.append(event)
            if outcome in changed:
                changed[outcome].append(event)
        # one message per window and outcome, however many features it names
        policy = self.config.alert_policy
        out.alerts.extend(AlertSignal(self.config.kind, outcome, tuple(events), policy.k,
                                      policy.m)
                          for outcome, events in changed.items() if events)
        out.metrics.extend(self._metrics(head, bounds, current))
        return out

    def _hygiene(self, head: ModelHead, feature: str, drifted: bool) -> str:
        history, active = head.hygiene.get(feature, [[], False])
        state, outcome = step(AlertState(tuple(history), active), drifted, self.config.alert_policy)
        head.hygiene[feature] = [list(state.history), state.active]
        return outcome

    def _run_detectors(self, head: ModelHead, observations: Sequence[Observation],
                       columns: Columns, monitored: Sequence[tuple[int, int]],
                       ) -> list[DriftEvent]:
        """Feed this batch's values, in the order applied, to the online detectors."""
        if head.detectors is None or not monitored:
            return []
        key = head_key(self.ns, head.model, head.version)
        detectors = _DETECTORS.take(key, head.detectors)
        if detectors is None:
            detectors = detector_state.unpack(head.detectors, OnlineDetectors.loads,
                                              f"{head.model} v{head.version}")
        if detectors is None:  # unreadable (another format): afresh, scaled by the reference
            scales = {name: (p.mean, p.std) for name, p in self._reference(head).items()
                      if isinstance(p, drift.NumericProfile)}
            detectors = OnlineDetectors(self.config.detectors, scales)
            self.detector_resets += 1
        rows = np.fromiter((row for _, row in monitored), dtype=np.intp, count=len(monitored))
        events = []
        for name, column in columns.numeric.items():
            for found in detectors.update(name, column[rows]):
                seq, row = monitored[found.position]
                events.append(self._detection_event(head, found, seq, observations[row]))
        head.detectors = detector_state.pack(detectors.dumps())
        _DETECTORS.put(key, head.detectors, detectors)
        return events

    def _common(self, head: ModelHead, bounds: WindowBounds) -> dict[str, Any]:
        return dict(
            schema_version=SCHEMA_VERSION, model_name=head.model, model_version=head.version,
            timestamp=bounds.end_time, window_start_seq=bounds.start_seq,
            window_end_seq=bounds.end_seq, window_start_offset=bounds.start_offset,
            window_end_offset=bounds.end_offset, window_start_time=bounds.start_time,
            window_end_time=bounds.end_time, partition=head.partition,
        )

    def _event(self, head: ModelHead, bounds: WindowBounds, feature: drift.FeatureReport,
               outcome: str, late: int) -> DriftEvent:
        # which test is primary and which effect is the headline: the registry's call
        primary = feature.primary_test or ""
        test = feature.primary
        kind = "recovered" if outcome == "recovered" else self.config.kind
        return DriftEvent(
            event_id=_event_id(self.config.app_id, self.ns, head.model, head.version,
                               bounds.index, feature.name),
            kind=kind,
            feature=feature.name,
            test=primary,
            # a test that could not be computed has no statistic (null), never a 0.0 that
            # reads as "no difference"
            statistic=_finite_or_none(test.statistic) if test is not None else None,
            p_value=_finite_or_none(test.p_value) if test is not None else None,
            drifted=bool(feature.drifted),
            reference_size=feature.n_reference,
            current_size=feature.n_current,
            effect=_finite_or_none(feature.effect),
            severity=feature.severity,
            p_value_adjusted=_finite_or_none(feature.p_value_adjusted),
            missing_share=_finite_or_none(feature.missing_share_current),
            alert=outcome,
            tests={name: {key: _finite_or_none(value) if isinstance(value, float) else value
                          for key, value in r.to_dict().items()}
                   for name, r in feature.tests.items()},
            late_events=late, sample_rate=self.config.sample_rate,
            **self._common(head, bounds),
        )

    def _detection_event(self, head: ModelHead, found: Detection, seq: int,
                         obs: Observation) -> DriftEvent:
        """An online detector fired at event ``seq``: published as what it is — kind
        ``detector_alarm``, the detector as ``test``, its statistic, the threshold it crossed
        and the event it fired at — never as a window's test result."""
        point = WindowBounds(index=-2)
        point.add(seq, obs.offset, obs.timestamp)
        return DriftEvent(
            event_id=_event_id(self.config.app_id, self.ns, head.model, head.version,
                               found.feature, found.detector, found.index),
            kind="detector_alarm", feature=found.feature, test=found.detector,
            statistic=_finite_or_none(found.statistic), p_value=None, drifted=True,
            reference_size=head.reference.size, current_size=found.index + 1, severity="low",
            alert="none",
            tests={found.detector: {"statistic": _finite_or_none(found.statistic),
                                    "p_value": None, "effect": None, "drifted": True},
                   "threshold": {"statistic": _finite_or_none(found.threshold),
                                 "p_value": None},
                   "index": {"statistic": float(found.index), "p_value": None}},
            sample_rate=self.config.sample_rate,
            **self._common(head, point),
        )

    def _metrics(self, head: ModelHead, bounds: WindowBounds, current: Chunk) -> list[MetricEvent]:
        out = []
        for name in self.config.metric_features:
            values = current.numeric.get(name)
            if values is None:
                continue
            present = values[~np.isnan(values)]
            for stat, value in (("mean", present.mean() if present.size else None),
                                ("var", present.var() if present.size else None)):
                metric = f"{name}_{stat}"
                out.append(MetricEvent(
                    event_id=_event_id(self.config.app_id, self.ns, head.model, head.version,
                                       bounds.index, metric),
                    schema_version=SCHEMA_VERSION, model_name=head.model,
                    model_version=head.version, timestamp=bounds.end_time, metric=metric,
                    value=_finite_or_none(value), sample_size=int(present.size),
                    window_start_seq=bounds.start_seq, window_end_seq=bounds.end_seq,
                    window_start_time=bounds.start_time, window_end_time=bounds.end_time,
                ))
        return out


def _finite_or_none(value: float | None) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


def _reference_chunk(observations: Sequence[Observation]) -> Chunk:
    """Before kinds are frozen, a feature is numeric in a chunk when every value present is."""
    names: dict[str, None] = {}
    for obs in observations:
        names.update(dict.fromkeys(obs.features))
    numeric: dict[str, np.ndarray] = {}
    categorical: dict[str, list[str | None]] = {}
    for name in names:
        values = [o.features.get(name) for o in observations]
        if all(v is None or is_number(v) for v in values):
            numeric[name] = np.array([np.nan if v is None else v for v in values], dtype=float)
        else:
            categorical[name] = [category_text(v) for v in values]
    return Chunk(numeric=numeric, categorical=categorical)


def _infer_kinds(chunks: Iterable[Chunk]) -> dict[str, str]:
    kinds: dict[str, str] = {}
    for chunk in chunks:
        for name in chunk.numeric:
            kinds.setdefault(name, "numeric")
        for name in chunk.categorical:
            kinds[name] = "categorical"
    return kinds


def _merge_reference(chunks: Sequence[Chunk], kinds: Mapping[str, str]) -> Chunk:
    """Align reference chunks on the frozen kinds; a feature absent from a chunk is missing."""
    aligned = []
    for chunk in chunks:
        n = chunk.size
        numeric = {}
        categorical: dict[str, list[str | None]] = {}
        for name, kind in kinds.items():
            if kind == "numeric":
                numeric[name] = chunk.numeric.get(name, np.full(n, np.nan))
            elif name in chunk.categorical:
                categorical[name] = chunk.categorical[name]
            elif name in chunk.numeric:
                categorical[name] = [None if math.isnan(v) else category_text(float(v))
                                     for v in chunk.numeric[name]]
            else:
                categorical[name] = [None] * n
        aligned.append(Chunk(numeric=numeric, categorical=categorical))
    return concat_chunks(aligned, kinds)

"""The per-(model, version) feature monitor: reference window, tumbling windows, drift tests.

It is written against a tiny key-value :class:`StateStore` so the same code runs on a faust
table in the worker and on a dict in unit tests. Applying a batch is idempotent: events at or
below the head's ``last_offset`` were already applied and are skipped, and everything the
batch writes is keyed by what the head says, so a replay after a crash rewrites the same keys.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import orjson

import drift
from schemas.events import DriftEvent
from schemas.spec import SCHEMA_VERSION
from tables.state import (
    Chunk,
    ModelHead,
    WindowBounds,
    chunk_key,
    concat_chunks,
    head_key,
    reference_key,
)

NAMESPACE = uuid.UUID("5b0d7c8e-4d52-4a55-9a53-6472696674c1")


class StateStore(Protocol):
    def get(self, key: bytes) -> bytes | None: ...
    def set(self, key: bytes, value: bytes) -> None: ...
    def delete(self, key: bytes) -> None: ...


@dataclass(frozen=True)
class MonitorConfig:
    app_id: str = "driftline"
    reference_size: int = 1000
    window_size: int = 1000
    psi_bins: int = 10
    policy: drift.DriftPolicy = drift.DriftPolicy()


@dataclass(frozen=True)
class Observation:
    """One validated feature event with where it came from."""

    offset: int
    partition: int
    timestamp: str
    features: Mapping[str, Any]


def category_text(value: Any) -> str | None:
    """How a value reads as a category; numbers that are whole read without a decimal point."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)
    return str(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class FeatureMonitor:
    """Applies batches of observations for one (model, version) to the state store."""

    def __init__(self, store: StateStore, config: MonitorConfig) -> None:
        self.store = store
        self.config = config

    # -- public -----------------------------------------------------------------------------
    def apply(self, model: str, version: str, batch: Sequence[Observation]) -> list[DriftEvent]:
        """Apply ``batch`` (in offset order); return drift events of windows that closed."""
        raw_head = self.store.get(head_key(model, version))
        head = (ModelHead.decode(raw_head) if raw_head is not None
                else ModelHead(model=model, version=version, partition=batch[0].partition))
        fresh = [o for o in batch if o.offset > head.last_offset]
        if not fresh:
            return []
        self._delete_stale(head)
        out: list[DriftEvent] = []
        pending: list[Observation] = []
        for obs in fresh:
            if head.window.size == 0:
                head.window = WindowBounds(
                    index=head.window.index, start_seq=head.seq, start_offset=obs.offset,
                    start_time=obs.timestamp, chunks=head.window.chunks,
                )
            pending.append(obs)
            head.seq += 1
            head.last_offset = obs.offset
            head.window.size += 1
            head.window.end_offset = obs.offset
            head.window.end_time = obs.timestamp
            if head.window.size >= self._target_size(head):
                out.extend(self._close_window(head, pending))
                pending = []
        if pending:
            self._write_chunk(head, pending)
        self.store.set(head_key(model, version), head.encode())
        return out

    # -- windows ----------------------------------------------------------------------------
    def _target_size(self, head: ModelHead) -> int:
        if head.phase == "reference":
            return self.config.reference_size
        return self.config.window_size

    def _chunk_from(self, head: ModelHead, observations: Sequence[Observation]) -> Chunk:
        if head.phase == "reference":
            return _reference_chunk(observations)
        numeric: dict[str, np.ndarray] = {}
        categorical: dict[str, list[str | None]] = {}
        for name, kind in head.kinds.items():
            if kind == "numeric":
                column = np.full(len(observations), np.nan)
                for i, obs in enumerate(observations):
                    value = obs.features.get(name)
                    if _is_number(value):
                        column[i] = value
                    elif value is not None:
                        head.type_mismatches += 1
                numeric[name] = column
            else:
                categorical[name] = [category_text(o.features.get(name)) for o in observations]
        head.unknown_features += sum(
            1 for o in observations for name in o.features if name not in head.kinds
        )
        return Chunk(numeric=numeric, categorical=categorical)

    def _write_chunk(self, head: ModelHead, observations: Sequence[Observation]) -> None:
        chunk = self._chunk_from(head, observations)
        key = chunk_key(head.model, head.version, head.window.index, head.window.chunks)
        self.store.set(key, chunk.encode())
        head.window.chunks += 1

    def _take_chunks(self, head: ModelHead) -> list[Chunk]:
        chunks = []
        for n in range(head.window.chunks):
            raw = self.store.get(chunk_key(head.model, head.version, head.window.index, n))
            if raw is None:  # pragma: no cover - written before the head that counts it
                raise LookupError(f"chunk {n} of window {head.window.index} is missing")
            chunks.append(Chunk.decode(raw))
        head.stale.append([head.window.index, head.window.chunks])
        return chunks

    def _delete_stale(self, head: ModelHead) -> None:
        for window, count in head.stale:
            for n in range(count):
                self.store.delete(chunk_key(head.model, head.version, window, n))
        head.stale = []

    def _close_window(self, head: ModelHead, pending: Sequence[Observation]) -> list[DriftEvent]:
        chunks = self._take_chunks(head)
        chunks.append(self._chunk_from(head, pending))
        bounds = head.window
        events: list[DriftEvent] = []
        if head.phase == "reference":
            self._freeze_reference(head, chunks)
        else:
            events = self._test_window(head, concat_chunks(chunks, head.kinds), bounds)
        head.window = WindowBounds(index=bounds.index + 1)
        return events

    def _freeze_reference(self, head: ModelHead, chunks: Sequence[Chunk]) -> None:
        kinds = _infer_kinds(chunks)
        merged = _merge_reference(chunks, kinds)
        profiles = {
            name: drift.build_profile(
                merged.numeric[name] if kind == "numeric" else merged.categorical[name],
                kind, bins=self.config.psi_bins,
            )
            for name, kind in kinds.items()
        }
        self.store.set(reference_key(head.model, head.version),
                       orjson.dumps(drift.profiles_to_dict(profiles)))
        head.kinds = kinds
        head.phase = "monitoring"

    def _test_window(self, head: ModelHead, current: Chunk, bounds: WindowBounds) -> list[DriftEvent]:
        raw = self.store.get(reference_key(head.model, head.version))
        if raw is None:  # pragma: no cover - the head says monitoring only once it is written
            return []
        reference = drift.profiles_from_dict(orjson.loads(raw))
        values: dict[str, Any] = {**current.numeric, **current.categorical}
        report = drift.compare(reference, values, self.config.policy)
        return [self._event(head, bounds, feature) for feature in report.features]

    def _event(self, head: ModelHead, bounds: WindowBounds, feature: Any) -> DriftEvent:
        primary = "ks" if feature.kind == "numeric" else "chi2"
        test = feature.tests[primary]
        psi = feature.tests.get("psi")
        key = f"{self.config.app_id}|{head.model}|{head.version}|{bounds.index}|{feature.name}|data_drift"
        return DriftEvent(
            event_id=str(uuid.uuid5(NAMESPACE, key)),
            schema_version=SCHEMA_VERSION,
            model_name=head.model,
            model_version=head.version,
            timestamp=bounds.end_time,
            kind="data_drift",
            feature=feature.name,
            test=primary,
            statistic=_finite(test.statistic),
            p_value=_finite_or_none(test.p_value),
            drifted=bool(feature.drifted),
            window_start_seq=bounds.start_seq,
            window_end_seq=bounds.start_seq + bounds.size,
            window_start_offset=bounds.start_offset,
            window_end_offset=bounds.end_offset,
            window_start_time=bounds.start_time,
            window_end_time=bounds.end_time,
            reference_size=feature.n_reference,
            current_size=feature.n_current,
            effect=_finite_or_none(psi.statistic) if psi is not None else None,
            severity=feature.severity,
            p_value_adjusted=_finite_or_none(feature.p_value_adjusted),
            missing_share=_finite_or_none(feature.missing_share_current),
            partition=head.partition,
        )


def _finite(value: float) -> float:
    return float(value) if math.isfinite(value) else 0.0


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
        if all(v is None or _is_number(v) for v in values):
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

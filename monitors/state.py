"""What the monitors keep in their changelog-backed table, and how it is encoded.

State per (model, version) is split so that a batch writes only what it adds:

* a small **head** (``h|…``): phase, counters, open windows, alert hygiene and online
  detector state, and the last source offset applied — the commit point that makes a
  replayed batch a no-op;
* **chunks** (``c|…|window|n``): the raw values one batch added to an open window, written
  once and deleted after the window closed;
* the frozen **reference** (``r|…``): profiles per feature, written once;
* for a sharded model, **staged** observations (``s|…|n``): events the reducer has received
  but not yet applied, because a shard that is behind may still send earlier ones
  (``monitors/staging.py``); written once, deleted once every one of them was released.

Changelog bytes per event are therefore about the event's own values, and memory per
(model, version) is bounded by the reference and window sizes, not by stream length.
Everything a batch changes that must move together (counters, detector state, hygiene)
lives in the head, so it is written in one record.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import orjson

SEP = "|"


def head_key(ns: str, model: str, version: str) -> bytes:
    return f"{ns}h{SEP}{model}{SEP}{version}".encode()


def reference_key(ns: str, model: str, version: str) -> bytes:
    return f"{ns}r{SEP}{model}{SEP}{version}".encode()


def reference_piece_key(ns: str, model: str, version: str, piece: int) -> bytes:
    """One piece of a reference too large for one table value (names hold no ``|``)."""
    return f"{ns}r{SEP}{model}{SEP}{version}{SEP}{piece}".encode()


def chunk_key(ns: str, model: str, version: str, window: int, chunk: int) -> bytes:
    return f"{ns}c{SEP}{model}{SEP}{version}{SEP}{window}{SEP}{chunk}".encode()


def staged_key(ns: str, model: str, version: str, chunk: int) -> bytes:
    return f"{ns}s{SEP}{model}{SEP}{version}{SEP}{chunk}".encode()


def versions_key(ns: str, model: str) -> bytes:
    return f"{ns}v{SEP}{model}".encode()


@dataclass(frozen=True)
class Observation:
    """One validated event with where it came from; ``timestamp`` is ISO-8601 in UTC."""

    offset: int
    partition: int
    timestamp: str
    features: Mapping[str, Any]
    #: (partition, offset) of the original when this is a copy re-sent under the model's key
    origin: tuple[int, int] | None = None


@dataclass
class WindowBounds:
    """An open window: which events it holds so far."""

    index: int = 0
    start_seq: int = -1
    end_seq: int = -1  # exclusive
    start_offset: int = -1
    end_offset: int = -1
    start_time: str = ""
    end_time: str = ""
    size: int = 0
    chunks: int = 0

    def add(self, seq: int, offset: int, timestamp: str) -> None:
        if self.size == 0:
            self.start_seq, self.start_offset, self.start_time = seq, offset, timestamp
        self.start_seq = min(self.start_seq, seq)
        self.start_offset = min(self.start_offset, offset)
        self.end_seq = max(self.end_seq, seq + 1)
        self.end_offset = max(self.end_offset, offset)
        self.start_time = min(self.start_time, timestamp)
        self.end_time = max(self.end_time, timestamp)
        self.size += 1


@dataclass
class ModelHead:
    model: str
    version: str
    partition: int
    phase: str = "reference"  # "reference" while collecting it, then "monitoring"
    reference_id: str = ""  # event id of an explicit reference, so a replay applies it once
    seq: int = 0  # events applied for this (model, version)
    last_offset: int = -1  # highest source offset applied; older redeliveries are skipped
    kinds: dict[str, str] = field(default_factory=dict)  # frozen with the reference
    reference: WindowBounds = field(default_factory=lambda: WindowBounds(index=-1))
    windows: dict[str, WindowBounds] = field(default_factory=dict)  # open windows by index
    next_index: int = 0  # count windows: the index the next window gets
    closed_upto: str = ""  # time windows: every window ending at or before this is closed
    max_time: str = ""
    late_events: int = 0  # arrived after their window closed (counted, not tested)
    late_reported: int = 0
    type_mismatches: int = 0
    unknown_features: int = 0
    hygiene: dict[str, list[Any]] = field(default_factory=dict)  # feature -> [history, active]
    #: chunks of windows closed by the last batch, as [window index, chunk count]; deleted at
    #: the start of the next batch, so a crash before the head is written loses no values.
    stale: list[list[int]] = field(default_factory=list)
    #: re-keyed copies: highest original offset applied per original partition, and how many
    #: second copies were skipped (see ``agents.monitoring.REROUTED_HEADER``)
    rerouted: dict[str, int] = field(default_factory=dict)
    duplicate_copies: int = 0
    #: a sharded model's reducer sees several source partitions: the highest offset applied
    #: (staged, for a sharded model) from each one other than ``partition`` (whose is
    #: ``last_offset``), and the latest event time heard from each (the merged watermark is
    #: their minimum)
    offsets: dict[str, int] = field(default_factory=dict)
    watermarks: dict[str, str] = field(default_factory=dict)
    #: a sharded model's staged chunks not yet wholly released, each as [chunk number, number
    #: of its events still staged, earliest timestamp among them]; an old head has none
    staged: list[list[Any]] = field(default_factory=list)
    next_staged: int = 0  # the number the next staged chunk gets (numbers are not reused)
    #: the merge key (timestamp, partition, offset) of the last observation released in
    #: event-time order; [] before the first
    released: list[Any] = field(default_factory=list)
    #: staged chunks wholly released by the last batch, deleted at the start of the next one
    #: (like ``stale``)
    staged_stale: list[int] = field(default_factory=list)
    detectors: bytes | None = None  # pickled OnlineDetectors, opaque here

    def applied(self, partition: int) -> int:
        """The highest offset of ``partition`` already applied (-1: none)."""
        if partition == self.partition:
            return self.last_offset
        return self.offsets.get(str(partition), -1)

    def mark_applied(self, partition: int, offset: int) -> None:
        if partition == self.partition:
            self.last_offset = offset
        else:
            self.offsets[str(partition)] = offset

    def encode(self) -> bytes:
        # orjson writes the nested WindowBounds itself: the same bytes as through
        # dataclasses.asdict, whose deep copy cost 25 times the encoding (120 µs a head)
        header = orjson.dumps({name: getattr(self, name) for name in _HEAD_FIELDS})
        return struct.pack("<I", len(header)) + header + (self.detectors or b"")

    @classmethod
    def decode(cls, raw: bytes) -> ModelHead:
        (length,) = struct.unpack_from("<I", raw)
        data = orjson.loads(raw[4:4 + length])
        data["reference"] = WindowBounds(**data["reference"])
        data["windows"] = {k: WindowBounds(**v) for k, v in data["windows"].items()}
        data["detectors"] = raw[4 + length:] or None
        return cls(**data)


#: what :meth:`ModelHead.encode` writes as JSON: every field but the opaque detector state
_HEAD_FIELDS = tuple(f.name for f in fields(ModelHead) if f.name != "detectors")


@dataclass
class Chunk:
    """Values one batch added: numeric columns as float64 (NaN = missing), categorical as text."""

    numeric: dict[str, np.ndarray]
    categorical: dict[str, list[str | None]]

    @property
    def size(self) -> int:
        for column in self.numeric.values():
            return len(column)
        for values in self.categorical.values():
            return len(values)
        return 0

    def encode(self) -> bytes:
        names = list(self.numeric)
        header = orjson.dumps({
            "n": self.size, "numeric": names, "categorical": self.categorical,
        })
        body = b"".join(np.ascontiguousarray(self.numeric[n], dtype="<f8").tobytes()
                        for n in names)
        return struct.pack("<I", len(header)) + header + body

    def rows(self, start: int, stop: int) -> Chunk:
        """The values of rows ``start`` to ``stop`` (exclusive)."""
        return Chunk(numeric={n: c[start:stop] for n, c in self.numeric.items()},
                     categorical={n: c[start:stop] for n, c in self.categorical.items()})

    def encoded_pieces(self, limit: int) -> list[bytes]:
        """The chunk encoded, in as many consecutive pieces (halving) as keep each within
        ``limit`` bytes when it can: a table value goes to the changelog as one message, and
        the broker refuses one past its limit (1 MB). One row is one piece whatever its size."""
        raw = self.encode()
        size = self.size
        if len(raw) <= limit or size <= 1:
            return [raw]
        half = size // 2
        return self.rows(0, half).encoded_pieces(limit) + self.rows(half, size).encoded_pieces(limit)

    @classmethod
    def decode(cls, raw: bytes) -> Chunk:
        (length,) = struct.unpack_from("<I", raw)
        header: dict[str, Any] = orjson.loads(raw[4:4 + length])
        n = header["n"]
        body = np.frombuffer(raw, dtype="<f8", offset=4 + length)
        numeric = {name: body[i * n:(i + 1) * n].copy() for i, name in enumerate(header["numeric"])}
        return cls(numeric=numeric, categorical=header["categorical"])


def concat_chunks(chunks: Sequence[Chunk], kinds: Mapping[str, str]) -> Chunk:
    """One chunk holding every value of ``chunks``, for the features in ``kinds``."""
    numeric = {
        name: np.concatenate([c.numeric[name] for c in chunks]) if chunks else np.empty(0)
        for name, kind in kinds.items() if kind == "numeric"
    }
    categorical: dict[str, list[str | None]] = {
        name: [v for c in chunks for v in c.categorical[name]]
        for name, kind in kinds.items() if kind == "categorical"
    }
    return Chunk(numeric=numeric, categorical=categorical)

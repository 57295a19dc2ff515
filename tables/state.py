"""What the monitor keeps in its changelog-backed table, and how it is encoded.

State per (model, version) is split so that a batch writes only what it adds:

* a small **head** (``h|model|version``): phase, counters, the open window's bounds and the
  last source offset applied — the commit point that makes replays idempotent;
* **chunks** (``c|model|version|window|n``): the raw values one batch added to the open
  window, written once and deleted when the window closes;
* the frozen **reference** (``r|model|version``): profiles per feature, written once.

Changelog bytes per event are therefore about the event's own values, and memory per
(model, version) is bounded by the reference and window sizes, not by stream length.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import orjson

SEP = "|"


def head_key(model: str, version: str) -> bytes:
    return f"h{SEP}{model}{SEP}{version}".encode()


def reference_key(model: str, version: str) -> bytes:
    return f"r{SEP}{model}{SEP}{version}".encode()


def chunk_key(model: str, version: str, window: int, chunk: int) -> bytes:
    return f"c{SEP}{model}{SEP}{version}{SEP}{window}{SEP}{chunk}".encode()


@dataclass
class WindowBounds:
    """The open window: which events it holds so far."""

    index: int = 0
    start_seq: int = 0
    start_offset: int = -1
    end_offset: int = -1
    start_time: str = ""
    end_time: str = ""
    size: int = 0
    chunks: int = 0


@dataclass
class ModelHead:
    model: str
    version: str
    partition: int
    phase: str = "reference"  # "reference" while collecting it, then "monitoring"
    seq: int = 0  # events applied for this (model, version)
    last_offset: int = -1  # highest source offset applied; older redeliveries are skipped
    kinds: dict[str, str] = field(default_factory=dict)  # frozen with the reference
    window: WindowBounds = field(default_factory=WindowBounds)
    type_mismatches: int = 0
    unknown_features: int = 0
    #: chunks of windows closed by the last batch, as [window index, chunk count]; deleted at
    #: the start of the next batch, so a crash before the head is written loses no values.
    stale: list[list[int]] = field(default_factory=list)

    def encode(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def decode(cls, raw: bytes) -> ModelHead:
        data = orjson.loads(raw)
        data["window"] = WindowBounds(**data["window"])
        return cls(**data)


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

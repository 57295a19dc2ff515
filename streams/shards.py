"""Where a sharded model's events go, which events a sampled model keeps, and the partials a
shard hands its model's reducer.

**Shards.** A model with ``shards = S`` (``DRIFT__MODELS.<model>.shards``) has its feature
events spread over S partitions of ``features``: shard ``s`` of model ``m`` is partition
``(p(m) + s) mod P``, where ``p(m)`` is the partition Kafka's default partitioner gives the key
``m`` (shard 0 is where an unsharded model lives), and an event's shard is a hash of its
``event_id``. Producers that know it send there directly with the key ``m|s``
(:func:`placement`); an event that arrives elsewhere is re-sent to its shard once, like any
event keyed by something else. Each shard's worker decodes, validates and samples its events
and publishes them, per batch, as one *partial* to ``feature-partials`` keyed by ``m`` — so
one reducer (the worker that owns ``p(m)``) runs the model's windows, tests, alert hygiene and
detectors on every shard's values, exactly as the unsharded monitor does on one partition's.

**Sampling.** With ``sample_rate = r`` an event is monitored when the hash of its
``event_id`` falls in the lowest share r of the hash range: the same events whatever worker,
replay or shard sees them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from aiokafka.partitioner import murmur2

#: the partial's format, so a reducer can refuse what it does not know
PARTIAL_FORMAT = "driftline.partial.v1"
_HALF = 2**64


def _digest(event_id: str) -> bytes:
    return hashlib.blake2b(event_id.encode(), digest_size=16).digest()


def sampled(event_id: str, rate: float) -> bool:
    """Whether an event is in the sample of share ``rate`` (deterministic in ``event_id``)."""
    if rate >= 1.0:
        return True
    return int.from_bytes(_digest(event_id)[:8], "big") < rate * _HALF


def shard_of(event_id: str, shards: int) -> int:
    """The shard of an event (independent of whether it is sampled: other hash bits)."""
    if shards <= 1:
        return 0
    return int.from_bytes(_digest(event_id)[8:], "big") % shards


def home_partition(model: str, partitions: int) -> int:
    """The partition Kafka's default partitioner gives the key ``model`` (murmur2)."""
    return (murmur2(model.encode()) & 0x7FFFFFFF) % partitions


def shard_partition(model: str, shard: int, partitions: int) -> int:
    return (home_partition(model, partitions) + shard) % partitions


def placement(model: str, event_id: str, shards: int, partitions: int) -> tuple[bytes, int]:
    """(key, partition) a producer should send a sharded model's event with."""
    shard = shard_of(event_id, shards)
    return f"{model}|{shard}".encode(), shard_partition(model, shard, partitions)


def shard_partitions(model: str, shards: int, partitions: int) -> frozenset[int]:
    """The partitions a model's shards live on (the reducer waits for each one's watermark)."""
    return frozenset(shard_partition(model, s, partitions) for s in range(shards))


@dataclass(frozen=True)
class Partial:
    """One shard's validated (and sampled) events of one (model, version) from one batch, in
    their partition's offset order: enough for the reducer to rebuild the observations."""

    model: str
    version: str
    partition: int  # the shard's partition of ``features``
    offsets: Sequence[int]
    timestamps: Sequence[str]  # UTC, one spelling
    origins: Sequence[tuple[int, int] | None]
    features: Sequence[dict[str, Any]]

    def encode(self) -> bytes:
        return orjson.dumps({
            "format": PARTIAL_FORMAT, "model": self.model, "version": self.version,
            "partition": self.partition, "offsets": list(self.offsets),
            "timestamps": list(self.timestamps),
            "origins": [list(o) if o is not None else None for o in self.origins],
            "features": list(self.features)})

    @classmethod
    def decode(cls, raw: bytes) -> Partial:
        """Raises ``ValueError`` (with the reason) for anything not a partial of this format."""
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"not a partial: {exc}") from None
        if not isinstance(obj, dict) or obj.get("format") != PARTIAL_FORMAT:
            raise ValueError(f"not a partial of format {PARTIAL_FORMAT}")
        try:
            offsets, timestamps = obj["offsets"], obj["timestamps"]
            origins, features = obj["origins"], obj["features"]
            if not len(offsets) == len(timestamps) == len(origins) == len(features):
                raise ValueError("columns of different lengths")
            if any(b <= a for a, b in zip(offsets, offsets[1:], strict=False)):
                raise ValueError("offsets not increasing: a partial holds one partition's "
                                 "events in order")
            return cls(model=str(obj["model"]), version=str(obj["version"]),
                       partition=int(obj["partition"]), offsets=offsets,
                       timestamps=timestamps,
                       origins=[tuple(o) if o is not None else None for o in origins],
                       features=features)
        except (KeyError, TypeError) as exc:
            raise ValueError(f"malformed partial: {exc!r}") from None

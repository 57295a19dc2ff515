"""Event-time order for a sharded model's reducer.

A sharded model's events reach its reducer shard by shard, in whatever order the shards'
partials arrive. Which events share a count window, which make the reference and the order
the online detectors see them in would then depend on that order, so the reducer does not
apply them as they come: it *stages* them in the state store and *releases* them in merged
event-time order — by the key ``(timestamp, partition, offset)`` — once no shard can still
send one that sorts before. Released observations go through the monitor's ordinary path,
so the model decides as an unsharded one that received the same events in time order.

Why releasing up to the *frontier* is safe: each shard partition is read in offset order and
producers emit in time order, so whatever partition ``q`` sends next sorts after
``(latest time heard from q, q, highest offset heard from q)``; everything staged at or
below the least of those keys over the shard partitions can no longer be preceded. A shard
partition not heard from yet holds everything back (as it holds back time windows).

An observation that sorts at or below what was released already (out of order within its
partition, or a copy re-sent after the shard's worker moved on) cannot be put in its place
any more: it is released at once, after what was released before. Equality with the
unsharded model therefore holds for events produced in time order (ties in time are broken
by partition, then offset).

State: the staged observations are chunks of their own (``s|…|n``, one or more per batch,
written once, with the exact values the shards handed over) counted in the head, and written
in the same commit as the head that marks their offsets applied. A chunk whose events have
all been released is deleted at the start of the next batch (as closed windows' chunks are),
so what is stored is what lies beyond the merged watermark.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence, Set
from typing import Any, Protocol

import orjson

from monitors.state import ModelHead, Observation, staged_key

#: a staged chunk is about at most this many bytes (one table value is one changelog message,
#: and Kafka's default message limit is 1 MB)
CHUNK_BYTES = 512 * 1024

#: (timestamp, partition, offset): timestamps are canonical UTC and compare as strings
MergeKey = tuple[str, int, int]
#: sorts after every timestamp
LAST = "\uffff"


class _Store(Protocol):  # monitors.drift_monitor.StateStore, without importing it back
    def get(self, key: bytes) -> bytes | None: ...
    def set(self, key: bytes, value: bytes) -> None: ...
    def delete(self, key: bytes) -> None: ...


def merge_key(obs: Observation) -> MergeKey:
    return (obs.timestamp, obs.partition, obs.offset)


def frontier(head: ModelHead, shards: Set[int]) -> MergeKey | None:
    """The key everything a shard partition can still send sorts after (None while one has
    not been heard from)."""
    if not shards:  # no longer sharded (reconfigured): nothing is waited for
        return (LAST, 0, 0)
    marks = []
    for partition in shards:
        heard = head.watermarks.get(str(partition))
        if heard is None:
            return None
        marks.append((heard, partition, head.applied(partition)))
    return min(marks)


def staged_events(head: ModelHead) -> int:
    """How many observations ``head``'s model has staged (received, not yet released)."""
    return sum(int(entry[1]) for entry in head.staged)


class Staging:
    """Stages a sharded model's admitted observations and releases them in event-time order."""

    def __init__(self, store: _Store, namespace: str, shards: Set[int]) -> None:
        self.store = store
        self.ns = namespace
        self.shards = shards

    def release(self, head: ModelHead, arrived: Sequence[Observation]) -> list[Observation]:
        """Stage ``arrived`` (admitted already: their offsets are marked applied) and return
        what can be applied now, in the order to apply it."""
        for obs in arrived:
            where = str(obs.partition)
            head.watermarks[where] = max(head.watermarks.get(where, ""), obs.timestamp)
        mark: MergeKey | None = tuple(head.released) if head.released else None
        at_once = [o for o in arrived if mark is not None and merge_key(o) <= mark]
        waiting = [o for o in arrived if mark is None or merge_key(o) > mark]
        upto = frontier(head, self.shards)
        ready: list[Observation] = []
        if upto is not None:
            kept = []
            for entry in head.staged:
                number, _, earliest = entry
                if earliest > upto[0]:  # all of it is later than the frontier: not read
                    kept.append(entry)
                    continue
                # what an earlier batch released of this chunk sorts at or below the mark
                rest = [o for o in self._read(head, number)
                        if mark is None or merge_key(o) > mark]
                ready.extend(o for o in rest if merge_key(o) <= upto)
                rest = [o for o in rest if merge_key(o) > upto]
                if rest:
                    kept.append([number, len(rest), min(o.timestamp for o in rest)])
                else:
                    head.staged_stale.append(number)
            head.staged = kept
            ready.extend(o for o in waiting if merge_key(o) <= upto)
            waiting = [o for o in waiting if merge_key(o) > upto]
        ready.sort(key=merge_key)
        if ready:
            head.released = list(merge_key(ready[-1]))
        for part, raw in _split(waiting):
            self.store.set(staged_key(self.ns, head.model, head.version, head.next_staged), raw)
            head.staged.append([head.next_staged, len(part), min(o.timestamp for o in part)])
            head.next_staged += 1
        return at_once + ready

    def delete_released(self, head: ModelHead) -> None:
        """Delete the chunks the last batch released wholly (its head no longer counts them)."""
        for number in head.staged_stale:
            self.store.delete(staged_key(self.ns, head.model, head.version, number))
        head.staged_stale = []

    def forget(self, head: ModelHead) -> None:
        self.delete_released(head)
        for number, *_ in head.staged:
            self.store.delete(staged_key(self.ns, head.model, head.version, number))
        head.staged = []

    def _read(self, head: ModelHead, number: int) -> list[Observation]:
        raw = self.store.get(staged_key(self.ns, head.model, head.version, number))
        if raw is None:  # pragma: no cover - written in the commit of the head that counts it
            raise LookupError(f"staged chunk {number} of {head.model}/{head.version} is missing")
        return decode(raw)


def encode(observations: Sequence[Observation]) -> bytes:
    """Exact values, but each distinct list of feature names once (not once per event)."""
    names: dict[tuple[str, ...], int] = {}
    shapes, values = [], []
    for obs in observations:
        shapes.append(names.setdefault(tuple(obs.features), len(names)))
        values.append(list(obs.features.values()))
    return orjson.dumps({
        "offsets": [o.offset for o in observations],
        "partitions": [o.partition for o in observations],
        "timestamps": [o.timestamp for o in observations],
        "origins": [list(o.origin) if o.origin is not None else None for o in observations],
        "names": list(names), "shapes": shapes, "values": values,
    })


def decode(raw: bytes) -> list[Observation]:
    data: dict[str, Any] = orjson.loads(raw)
    names = data["names"]
    return [Observation(offset=offset, partition=partition, timestamp=timestamp,
                        features=dict(zip(names[shape], row, strict=True)),
                        origin=tuple(origin) if origin is not None else None)
            for offset, partition, timestamp, origin, shape, row in zip(
                data["offsets"], data["partitions"], data["timestamps"], data["origins"],
                data["shapes"], data["values"], strict=True)]


def _split(observations: Sequence[Observation],
           ) -> Iterable[tuple[Sequence[Observation], bytes]]:
    """``observations`` in parts of about at most :data:`CHUNK_BYTES` encoded, with their
    encoding."""
    if not observations:
        return
    raw = encode(observations)
    if len(raw) <= CHUNK_BYTES or len(observations) == 1:
        yield observations, raw
        return
    half = len(observations) // 2
    yield from _split(observations[:half])
    yield from _split(observations[half:])

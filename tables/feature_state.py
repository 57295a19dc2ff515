"""The changelog-backed tables holding monitor and join state, and their :class:`StateStore`
adapter."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import faust
from faust.streams import _current_event
from faust.types import EventT

from faust_app import app, settings
from observability.metrics import CHANGELOG_BYTES

#: Changelog segments roll quickly so compaction keeps recovery time bounded by live keys.
CHANGELOG_CONFIG = {
    "segment.bytes": str(16 * 1024 * 1024),
    "segment.ms": str(int(timedelta(minutes=10).total_seconds() * 1000)),
    "min.cleanable.dirty.ratio": "0.2",
    "delete.retention.ms": str(int(timedelta(hours=1).total_seconds() * 1000)),
}

feature_state = app.Table(
    "feature-state",
    default=None,
    key_type=bytes,  # bytes types make faust use the "raw" codec for keys and values
    value_type=bytes,
    partitions=settings.kafka.partitions,
    extra_topic_configs=CHANGELOG_CONFIG,
    help="Monitor heads, open-window chunks and frozen references per (model, version).",
)


@contextmanager
def writing_for(event: EventT) -> Iterator[None]:
    """Make ``event`` faust's current event, so table writes go to its partition's changelog.

    Batches from ``take_events`` mix partitions; faust picks the changelog partition from
    the current event, which would otherwise be whichever event arrived last.
    """
    token = _current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        _current_event.reset(token)


class TableStore:
    """:class:`monitors.drift_monitor.StateStore` over a faust table, pinned to one source event."""

    table: faust.types.TableT = feature_state

    def __init__(self, event: EventT) -> None:
        self.event = event

    def get(self, key: bytes) -> bytes | None:
        value: bytes | None = self.table.get(key)
        return value

    def set(self, key: bytes, value: bytes) -> None:
        with writing_for(self.event):
            self.table[key] = value
        CHANGELOG_BYTES.labels(self.table.name).inc(len(key) + len(value))

    def delete(self, key: bytes) -> None:
        if key in self.table:
            with writing_for(self.event):
                del self.table[key]
            CHANGELOG_BYTES.labels(self.table.name).inc(len(key))


#: Predictions waiting for labels for up to the join TTL (days of traffic): on disk, not in RAM.
join_state = app.Table(
    "label-join",
    default=None,
    key_type=bytes,
    value_type=bytes,
    partitions=settings.kafka.partitions,
    store="rocksdb://",
    extra_topic_configs=CHANGELOG_CONFIG,
    help="Predictions awaiting labels, labels awaiting predictions, and their expiry index.",
)


class JoinStore(TableStore):
    """The label-join table, pinned to one source event like :class:`TableStore`.

    Two agents (predictions and labels) read, modify and write the same keys here — the
    model's join head, waiting labels, waiting predictions — and each commits only after its
    outputs are on the broker. Their steps must not interleave across that wait, or one
    agent's buffered writes are invisible to the other and the later commit overwrites the
    head: a label and its prediction then both wait, unjoined. ``lock`` serialises them.
    """

    table = join_state
    lock = asyncio.Lock()

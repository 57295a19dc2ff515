"""faust's Prometheus sensor, with its per-message series taken from faust's Monitor counters and
published once per batch.

faust calls its sensor five times for every message (its partition's end offset, received,
handed to a stream, done, acknowledged), and ``PrometheusMonitor`` answers each with label
lookups and locked updates of prometheus_client metrics: 14 µs per message against 3 µs for
faust's own ``Monitor`` (``bench/sensor_bench.py``), ~6 % of a worker's CPU. This sensor
does per message what faust's ``Monitor`` does and nothing more, and publishes what
``Monitor``'s counters moved into the same series (same names, labels and meaning) in
:meth:`flush`, which the agents call once per batch
(:func:`observability.metrics.observe_batch`) and a timer every second, so a scrape is at
most that much behind. Everything that is not per message (sends, commits, tables,
rebalances, web requests) is faust's sensor unchanged.
"""

from __future__ import annotations

from typing import Any

from faust.sensors.monitor import Monitor
from faust.sensors.prometheus import PrometheusMonitor
from faust.types import TP, EventT, StreamT

#: per-event run times kept for the latency histogram between flushes (a flush that comes
#: late — a batch held for an outage — publishes the latest ones, not an unbounded list)
MAX_PENDING_RUNTIMES = 50_000


class BatchedPrometheusMonitor(PrometheusMonitor):
    """``PrometheusMonitor`` whose per-message series are updated by :meth:`flush`.

    Per message it does faust ``Monitor``'s bookkeeping and nothing else — the hooks *are*
    ``Monitor``'s (no wrapper), except the one that keeps each event's run time for the
    histogram. :meth:`flush` publishes what ``Monitor``'s own counters moved since the last
    flush: messages and events counted, offsets read and partition ends, in-flight gauges."""

    # faust's Monitor, per message, as it is (bench/sensor_bench.py)
    track_tp_end_offset = Monitor.track_tp_end_offset
    on_message_in = Monitor.on_message_in
    on_stream_event_in = Monitor.on_stream_event_in
    on_message_out = Monitor.on_message_out

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # what the last flush published, of Monitor's counters
        self._received_total = 0
        self._received: dict[str, int] = {}  # topic -> messages in
        self._read: dict[TP, int] = {}  # partition -> read offset
        self._ends: dict[TP, int] = {}  # partition -> end offset
        self._events: dict[str, int] = {}  # Monitor's stream key -> events in
        self._labels: dict[str, str] = {}  # Monitor's stream key -> our series' label
        self._messages_active = 0
        self._events_active = 0
        self._runtimes: list[float] = []  # seconds, since the last flush

    # every hook and the flush run on the worker's event loop (faust's consumer thread only
    # fetches): no lock

    def on_stream_event_out(self, tp: TP, offset: int, stream: StreamT, event: EventT,
                            state: dict[str, Any] | None = None) -> None:
        Monitor.on_stream_event_out(self, tp, offset, stream, event, state)
        if state is not None:
            self._runtimes.append(state["time_total"])
            if len(self._runtimes) > MAX_PENDING_RUNTIMES:
                del self._runtimes[: MAX_PENDING_RUNTIMES // 2]

    def flush(self) -> None:
        """Move what was counted since the last flush into the Prometheus series."""
        m = self._metrics
        received = self.messages_received_total - self._received_total
        if received:
            self._received_total = self.messages_received_total
            m.messages_received.inc(received)
            for topic, count in self.messages_received_by_topic.items():
                moved = count - self._received.get(topic, 0)
                if moved:
                    self._received[topic] = count
                    m.messages_received_per_topics.labels(topic=topic).inc(moved)
        _publish_offsets(self.tp_read_offsets, self._read,
                         m.messages_received_per_topics_partition)
        _publish_offsets(self.tp_end_offsets, self._ends, m.topic_partition_end_offset)
        if self.messages_active != self._messages_active:
            m.active_messages.inc(self.messages_active - self._messages_active)
            self._messages_active = self.messages_active
        if self.events_total:
            for stream, key in self.stream_lookup.items():
                if key not in self._labels:
                    self._labels[key] = f"stream.{self._stream_label(stream)}.events"
            moved_total = 0
            for key, count in self.events_by_stream.items():
                moved = count - self._events.get(key, 0)
                if moved:
                    self._events[key] = count
                    moved_total += moved
                    label = self._labels.get(key)
                    if label is None:  # its stream is gone (faust keeps streams weakly)
                        label = self._labels[key] = f"stream.{self._normalize(key).lower()}.events"
                    m.total_events_per_stream.labels(stream=label).inc(moved)
            if moved_total:
                m.total_events.inc(moved_total)
        if self.events_active != self._events_active:
            m.total_active_events.inc(self.events_active - self._events_active)
            self._events_active = self.events_active
        runtimes, self._runtimes = self._runtimes, []
        for runtime in runtimes:
            m.events_runtime_latency.observe(self.secs_to_ms(runtime))


def _publish_offsets(offsets: dict[TP, int], published: dict[TP, int], gauge: Any) -> None:
    """Set ``gauge`` for each partition whose offset moved since it was last published."""
    for tp, offset in offsets.items():
        if published.get(tp) != offset:
            published[tp] = offset
            gauge.labels(topic=tp.topic, partition=tp.partition).set(offset)

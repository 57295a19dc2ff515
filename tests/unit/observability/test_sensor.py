"""The batched sensor publishes, at each flush, the very series faust's PrometheusMonitor
would have after the same messages."""

from __future__ import annotations

from faust.sensors.prometheus import FaustMetrics, PrometheusMonitor
from faust.types import TP
from prometheus_client import CollectorRegistry

from observability.sensor import BatchedPrometheusMonitor


class _Owner:
    pass


class _Stream:
    def __init__(self, label: str) -> None:
        self.shortlabel = f"Stream: Topic: {label}"
        self.task_owner = _Owner()


class _Message:
    time_in = None


def drive(sensor, streams, batches) -> None:
    """Messages of two topics and partitions, some still in flight at the end."""
    tps = [TP("features", 0), TP("features", 3), TP("labels", 1)]
    offset = 0
    for batch in range(batches):
        held = []
        for n in range(7):
            tp = tps[n % 3]
            offset += 1
            message = _Message()
            sensor.track_tp_end_offset(tp, offset + 10)
            sensor.on_message_in(tp, offset, message)
            stream = streams[n % 2]
            state = sensor.on_stream_event_in(tp, offset, stream, None)
            held.append((tp, offset, stream, state, message))
        for tp, off, stream, state, message in held[: 5 if batch == batches - 1 else None]:
            sensor.on_stream_event_out(tp, off, stream, None, state)
            sensor.on_message_out(tp, off, message)
        if isinstance(sensor, BatchedPrometheusMonitor):
            sensor.flush()


def samples(registry: CollectorRegistry) -> dict[tuple[str, tuple], float]:
    out = {}
    for family in registry.collect():
        for sample in family.samples:
            if sample.name.startswith("t_events_runtime_ms") and not sample.name.endswith("_count"):
                continue  # run times differ between the two runs; their number does not
            if sample.name.endswith("_created"):
                continue
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def test_flush_publishes_what_faust_sensor_publishes() -> None:
    streams = [_Stream("features"), _Stream("labels")]
    faust_registry, ours_registry = CollectorRegistry(), CollectorRegistry()
    drive(PrometheusMonitor(metrics=FaustMetrics.create(faust_registry, "t")), streams, 4)
    drive(BatchedPrometheusMonitor(metrics=FaustMetrics.create(ours_registry, "t")), streams, 4)
    theirs, ours = samples(faust_registry), samples(ours_registry)
    assert ours == theirs
    assert theirs[("t_messages_received_total", ())] == 28
    assert theirs[("t_active_messages", ())] == 2  # two of the last batch still in flight
    assert theirs[("t_topic_partition_end_offset", (("partition", "3"), ("topic", "features")))] > 0


def test_nothing_is_published_before_a_flush() -> None:
    registry = CollectorRegistry()
    sensor = BatchedPrometheusMonitor(metrics=FaustMetrics.create(registry, "t"))
    sensor.on_message_in(TP("features", 0), 1, _Message())
    assert samples(registry).get(("t_messages_received_total", ()), 0) == 0
    sensor.flush()
    assert samples(registry)[("t_messages_received_total", ())] == 1
    sensor.flush()  # a second flush adds nothing
    assert samples(registry)[("t_messages_received_total", ())] == 1


def test_events_of_a_stream_gone_before_the_flush_are_still_published() -> None:
    """faust keeps its streams weakly: counts of one collected before a flush are published
    under a label made from faust's own key for it, and the flush does not fail."""
    import gc

    registry = CollectorRegistry()
    sensor = BatchedPrometheusMonitor(metrics=FaustMetrics.create(registry, "t"))
    stream = _Stream("short-lived")
    tp = TP("features", 0)
    message = _Message()
    sensor.on_message_in(tp, 1, message)
    state = sensor.on_stream_event_in(tp, 1, stream, None)
    sensor.on_stream_event_out(tp, 1, stream, None, state)
    sensor.on_message_out(tp, 1, message)
    del stream
    gc.collect()
    assert not sensor.stream_lookup
    sensor.flush()
    published = {labels: value for (name, labels), value in samples(registry).items()
                 if name == "t_total_events_per_stream_total"}
    assert list(published.values()) == [1]
    assert samples(registry)[("t_total_events_total", ())] == 1

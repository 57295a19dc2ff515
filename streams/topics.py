"""Topic declarations. Every topic is declared with an explicit partition count (the broker
does not auto-create topics), and values stay raw bytes so a bad message can be dead-lettered
whole instead of failing inside faust's deserialiser. Their sends carry the trace context
(:class:`streams.telemetry.TracedTopic`; nothing is added while tracing is off)."""

from __future__ import annotations

import faust

from faust_app import app, settings
from streams.telemetry import TracedTopic


def _topic(*fields: str, **options: object) -> faust.TopicT:
    return TracedTopic(
        app,
        topics=[settings.kafka.topics.name(field) for field in fields],
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=settings.kafka.partitions,
        internal=True,
        **options,
    )


# inputs
features_topic = _topic("features")
predictions_topic = _topic("predictions")
labels_topic = _topic("labels")
reference_profiles_topic = _topic("reference_profiles")
red_team_results_topic = _topic("red_team_results")
retrain_triggers_topic = _topic("retrain_triggers")
# outputs, which other agents act on
drift_events_topic = _topic("drift_events")
retrain_requests_topic = _topic("retrain_requests")
training_jobs_topic = _topic("training_jobs")
promotion_events_topic = _topic("promotion_events")
alerts_topic = _topic("alerts")
dead_letters_topic = _topic("dead_letters")
performance_metrics_topic = _topic("performance_metrics")
labelled_predictions_topic = _topic("labelled_predictions")
# a sharded model's partials, from its shards to its reducer (streams/shards.py)
feature_partials_topic = _topic("feature_partials")
# what the retrain agent reads: one stream, so its ledger has one writer; faust assigns
# co-partitioned topics (same partition count) together, so a model's drift events and manual
# triggers reach the same worker as its ledger entry
retrain_inputs_topic = _topic("drift_events", "retrain_triggers")
# what the training agent reads: accepted requests join the queue, finished jobs free capacity;
# one stream (co-partitioned, keyed by model) so the queue and in-flight tables have one writer
training_inputs_topic = _topic("retrain_requests", "training_jobs")

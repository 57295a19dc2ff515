"""Topic declarations. Every topic is declared with an explicit partition count (the broker
does not auto-create topics), and values stay raw bytes so a bad message can be dead-lettered
whole instead of failing inside faust's deserialiser."""

from __future__ import annotations

import faust

from faust_app import app, settings


def _topic(field: str, **options: object) -> faust.TopicT:
    return app.topic(
        settings.kafka.topics.name(field),
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=settings.kafka.partitions,
        internal=True,
        **options,
    )


features_topic = _topic("features")
drift_events_topic = _topic("drift_events")
dead_letters_topic = _topic("dead_letters")

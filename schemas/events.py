"""Records on the wire.

Input events (features, predictions, labels) are validated from raw bytes by
:func:`decode`, so a malformed event becomes a dead letter with its reason instead of an
exception inside the stream. Records are declared once, as ``FIELDS``
(:mod:`schemas.record`), and serialise to plain JSON objects any consumer can read.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TypeVar

import orjson

from schemas.reasons import Reason
from schemas.record import Record
from schemas.spec import (
    SCHEMA_VERSION,
    FieldSpec,
    InvalidEvent,
    Limits,
    validate,
)

COMMON_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("event_id", "uuid", description="Unique id; sinks are idempotent on it."),
    FieldSpec("schema_version", "schema_version"),
    FieldSpec("model_name", "name", description="Also the Kafka message key."),
    FieldSpec("model_version", "name"),
    FieldSpec("timestamp", "timestamp", description="ISO-8601 with a zone."),
)

#: ``detector_alarm``: an online detector (ADWIN, Page–Hinkley) fired at one event — not a
#: window's test result; ``estimated_performance_drop``: a metric estimated without labels
#: fell (see README, "Performance")
DRIFT_KINDS = ("data_drift", "model_drift", "performance_drop", "recovered", "detector_alarm",
               "estimated_performance_drop")
SEVERITIES = ("none", "low", "medium", "high")
#: where a result stands in alert hygiene: "fired" once when k of the last m windows drifted,
#: "ongoing" while that lasts, "recovered" once when it clears, "none" otherwise
ALERT_STATES = ("none", "fired", "ongoing", "recovered")
ALERT_KINDS = ("drift_alert", "recovered", "performance_drop", "estimated_performance_drop",
               "retrain_decision", "training_failed", "promotion_decision")


class Event(Record):
    """Fields every driftline event carries."""

    FIELDS = COMMON_FIELDS

    @property
    def time(self) -> datetime:
        return datetime.fromisoformat(self.timestamp)


class FeatureEvent(Event):
    FIELDS = (
        *COMMON_FIELDS,
        FieldSpec(
            "features",
            "feature_map",
            description="Feature name -> number, string, boolean or null (missing).",
        ),
    )
    DESCRIPTION = "The inputs a model saw, one event per scored row."


class PredictionEvent(Event):
    FIELDS = (
        *COMMON_FIELDS,
        FieldSpec("prediction", "scalar", description="Score (number) or class (string)."),
        FieldSpec(
            "probabilities",
            "probability_map",
            required=False,
            description="Class -> probability, summing to 1.",
        ),
        FieldSpec("features", "feature_map", required=False),
    )
    DESCRIPTION = "What a model predicted; labels join to it by event_id."


class LabelEvent(Event):
    FIELDS = (
        *COMMON_FIELDS,
        FieldSpec("prediction_event_id", "uuid", description="event_id of the prediction."),
        FieldSpec("label", "scalar", description="The ground truth, when it became known."),
        FieldSpec("prediction_timestamp", "timestamp", required=False,
                  description="When the prediction was made; lets a label that arrives after "
                  "the join TTL be told apart from one for an unknown prediction."),
    )
    DESCRIPTION = "Delayed ground truth for one prediction."


class DriftEvent(Event):
    FIELDS = (
        *COMMON_FIELDS,
        FieldSpec("kind", "enum", choices=DRIFT_KINDS),
        FieldSpec("feature", "name", description="Feature, prediction or metric name."),
        FieldSpec("test", "name"),
        FieldSpec("statistic", "number", nullable=True,
                  description="null when the test could not be computed (no values)."),
        FieldSpec("p_value", "number", nullable=True),
        FieldSpec("drifted", "boolean"),
        FieldSpec("window_start_seq", "integer", description="Per-model event sequence number."),
        FieldSpec("window_end_seq", "integer", description="Exclusive."),
        FieldSpec("window_start_offset", "integer"),
        FieldSpec("window_end_offset", "integer", description="Inclusive."),
        FieldSpec("window_start_time", "timestamp"),
        FieldSpec("window_end_time", "timestamp"),
        FieldSpec("reference_size", "integer"),
        FieldSpec("current_size", "integer",
                  description="Events in the window: the effective sample size when the "
                  "model is sampled (sample_rate < 1)."),
        FieldSpec("effect", "number", required=False),
        FieldSpec("severity", "enum", choices=SEVERITIES, required=False, default="none"),
        FieldSpec("p_value_adjusted", "number", required=False),
        FieldSpec("missing_share", "number", required=False),
        FieldSpec("partition", "integer", required=False),
        FieldSpec("alert", "enum", choices=ALERT_STATES, required=False,
                  default="none",
                  description="Alert hygiene: fired once when k of the last m windows drifted."),
        FieldSpec("tests", "object", required=False,
                  description="Every test the registry ran: name -> {statistic, p_value, "
                  "effect, drifted}."),
        FieldSpec("late_events", "integer", required=False,
                  default=0,
                  description="Events that arrived after their event-time window closed."),
        FieldSpec("sample_rate", "number", required=False, default=1.0,
                  description="Share of the model's events monitored (a hash of event_id "
                  "chooses them, DRIFT__MODELS.<model>.sample_rate); current_size is the "
                  "effective sample size, the window's events that were in the sample."),
    )
    DESCRIPTION = "The result of one drift test on one closed window."


class MetricEvent(Event):
    """One windowed metric: model quality on labelled predictions, or confidence stability."""

    FIELDS = (
        *COMMON_FIELDS,
        FieldSpec("metric", "name"),
        FieldSpec("value", "number", nullable=True),
        FieldSpec("sample_size", "integer"),
        FieldSpec("window_start_seq", "integer"),
        FieldSpec("window_end_seq", "integer"),
        FieldSpec("window_start_time", "timestamp"),
        FieldSpec("window_end_time", "timestamp"),
        FieldSpec("reference_value", "number", required=False),
        FieldSpec("estimated", "boolean", required=False, default=False,
                  description="Estimated without labels (CBPE), not measured on joined labels."),
        FieldSpec("lower", "number", required=False,
                  description="Estimates: the interval the realized value should fall in."),
        FieldSpec("upper", "number", required=False),
    )
    DESCRIPTION = "A metric of one closed window (accuracy, F1, MAE, confidence mean, ...)."


class ReferenceProfileEvent(Event):
    """An explicit reference for (model, version), from ``driftline reference set``."""

    FIELDS = (
        *COMMON_FIELDS,
        FieldSpec("profile", "object",
                  description='A profile document (format "driftline.profile").'),
    )
    DESCRIPTION = "Sets the frozen reference a model version's windows are tested against."


class LabelledPredictionEvent(Event):
    """A prediction joined with its label (``event_id`` is the prediction's)."""

    FIELDS = (
        *COMMON_FIELDS,
        FieldSpec("label_time", "timestamp"),
        FieldSpec("prediction", "scalar"),
        FieldSpec("label", "scalar"),
        FieldSpec("probabilities", "probability_map", required=False),
        FieldSpec("features", "feature_map", required=False),
    )
    DESCRIPTION = "Production data with ground truth, for evaluation and retraining."


class Alert(Event):
    """Something a person should hear about; the notification agent turns it into e-mail."""

    FIELDS = (
        *COMMON_FIELDS,
        FieldSpec("kind", "enum", choices=ALERT_KINDS),
        FieldSpec("severity", "enum", choices=SEVERITIES),
        FieldSpec("subject", "text"),
        FieldSpec("summary", "long_text"),
        FieldSpec("dedup_key", "text",
                  description="Notifications are de-duplicated per (model, kind, dedup_key)."),
        FieldSpec("details", "object", required=False),
        FieldSpec("source_event_id", "uuid", required=False),
    )
    DESCRIPTION = "A notification request: drift alert, recovery, retrain or promotion news."


class DeadLetter(Record):
    """An input that could not be processed, kept whole so nothing is lost."""

    FIELDS = (
        FieldSpec("event_id", "uuid",
                  description="uuid5 of (app id, topic, partition, offset): one letter per message."),
        FieldSpec("schema_version", "schema_version"),
        FieldSpec("topic", "text", description="Where the message was read."),
        FieldSpec("partition", "integer", nullable=True),
        FieldSpec("offset", "integer", nullable=True),
        FieldSpec("key_b64", "base64", nullable=True, description="The message key, base64."),
        FieldSpec("value_b64", "base64", description="The message value, base64."),
        FieldSpec("reason", "long_text", description="Why it could not be processed."),
        FieldSpec("timestamp", "timestamp", description="When it was dead-lettered."),
        FieldSpec("app_id", "text", description="The driftline deployment that read it."),
        FieldSpec("model_name", "text", required=False,
                  description="The model, when the value names one."),
        FieldSpec("model_version", "text", required=False),
        FieldSpec("reason_code", "text", required=False,
                  description="Why, as a code (schemas/reasons.py); absent in older letters."),
        FieldSpec("value_size", "integer", required=False,
                  description="Size of the original value in bytes."),
        FieldSpec("value_truncated", "boolean", required=False, default=False,
                  description="Only the value's first bytes are kept: fetch the original "
                              "from topic/partition/offset."),
    )
    DESCRIPTION = "A message driftline could not process, with its bytes and the reason."

    @property
    def value(self) -> bytes:
        return base64.b64decode(self.value_b64)


E = TypeVar("E", bound=Event)

INPUT_EVENTS: Mapping[str, type[Event]] = {
    "FeatureEvent": FeatureEvent,
    "PredictionEvent": PredictionEvent,
    "LabelEvent": LabelEvent,
}
OUTPUT_EVENTS: Mapping[str, type[Event]] = {
    "DriftEvent": DriftEvent,
    "Alert": Alert,
    "MetricEvent": MetricEvent,
    "ReferenceProfileEvent": ReferenceProfileEvent,
    "LabelledPredictionEvent": LabelledPredictionEvent,
}


def decode(raw: bytes | None, record: type[E], limits: Limits) -> E:
    """Parse and validate one message value; raise :class:`InvalidEvent` with the reason."""
    if raw is None:
        raise InvalidEvent("empty message (tombstone)", Reason.EMPTY)
    if len(raw) > limits.max_payload_bytes:
        raise InvalidEvent(f"payload of {len(raw)} bytes exceeds {limits.max_payload_bytes}",
                           Reason.TOO_LARGE)
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidEvent(f"not valid JSON: {exc}", Reason.NOT_JSON) from None
    return record(**validate(obj, record.FIELDS, limits))


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


#: A dead letter must fit the producer's request limit (1 MiB) after base64 (4/3) and its
#: other fields: values up to this size are kept whole ...
MAX_DEAD_LETTER_VALUE = 512 * 1024
#: ... larger ones keep this prefix (plus topic, partition and offset to fetch the original)
DEAD_LETTER_PREFIX = 16 * 1024
MAX_DEAD_LETTER_KEY = 4 * 1024


def dead_letter(
    *,
    topic: str,
    partition: int | None,
    offset: int | None,
    key: bytes | None,
    value: bytes | None,
    reason: str,
    app_id: str,
    code: Reason = Reason.INVALID,
    clock: Callable[[], str] = now_iso,
) -> DeadLetter:
    """Build the dead letter for a message; its id is stable for a (topic, partition, offset).

    Whatever the message holds, the letter fits the producer's limit: an oversized value (or
    key) is cut to a prefix and the letter says so, with the coordinates of the original."""
    size = len(value) if value is not None else 0
    truncated = size > MAX_DEAD_LETTER_VALUE
    if truncated:
        value = (value or b"")[:DEAD_LETTER_PREFIX]
        reason = (f"{reason[:700]} [value of {size} bytes truncated to its first "
                  f"{DEAD_LETTER_PREFIX}; the original is at {topic}[{partition}]@{offset}]")
    if key is not None and len(key) > MAX_DEAD_LETTER_KEY:
        reason = f"{reason[:900]} [key of {len(key)} bytes truncated]"
        key = key[:MAX_DEAD_LETTER_KEY]
    if partition is not None and offset is not None:
        event_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"dlq:{app_id}:{topic}:{partition}:{offset}"))
    else:
        event_id = str(uuid.uuid4())
    model_name = model_version = None
    if value and not truncated:
        # Best effort only: a dead letter names its model when the JSON allows it.
        try:
            obj = orjson.loads(value)
            if isinstance(obj, dict):
                name, version = obj.get("model_name"), obj.get("model_version")
                model_name = name[:128] if isinstance(name, str) else None
                model_version = version[:128] if isinstance(version, str) else None
        except orjson.JSONDecodeError:
            pass
    return DeadLetter(
        event_id=event_id,
        schema_version=SCHEMA_VERSION,
        topic=topic,
        partition=partition,
        offset=offset,
        key_b64=base64.b64encode(key).decode() if key is not None else None,
        value_b64=base64.b64encode(value or b"").decode(),
        reason=reason[:1000],
        timestamp=clock(),
        app_id=app_id,
        model_name=model_name,
        model_version=model_version,
        reason_code=str(code),
        value_size=size,
        value_truncated=truncated,
    )

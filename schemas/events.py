"""Records on the wire.

Input events (features, predictions, labels) are validated from raw bytes by
:func:`decode`, so a malformed event becomes a dead letter with its reason instead of an
exception inside the stream. Output events are faust records serialised without faust's
metadata, so any JSON consumer can read them.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar

import faust
import orjson

from schemas.reasons import Reason
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

DRIFT_KINDS = ("data_drift", "model_drift", "performance_drop", "recovered")
SEVERITIES = ("none", "low", "medium", "high")
#: where a result stands in alert hygiene: "fired" once when k of the last m windows drifted,
#: "ongoing" while that lasts, "recovered" once when it clears, "none" otherwise
ALERT_STATES = ("none", "fired", "ongoing", "recovered")
ALERT_KINDS = ("drift_alert", "recovered", "performance_drop", "retrain_decision",
               "training_failed", "promotion_decision")


class Event(faust.Record, abstract=True, include_metadata=False, serializer="json"):
    """Fields every driftline event carries."""

    event_id: str
    schema_version: int
    model_name: str
    model_version: str
    timestamp: str

    #: The wire spec that validation and the exported JSON Schema derive from.
    FIELDS: ClassVar[tuple[FieldSpec, ...]] = COMMON_FIELDS
    DESCRIPTION: ClassVar[str] = ""

    @property
    def time(self) -> datetime:
        return datetime.fromisoformat(self.timestamp)


class FeatureEvent(Event):
    features: dict[str, Any]

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
    prediction: Any
    probabilities: dict[str, float] | None = None
    features: dict[str, Any] | None = None

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
    prediction_event_id: str
    label: Any
    prediction_timestamp: str | None = None

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
    kind: str
    feature: str
    test: str
    statistic: float | None
    p_value: float | None
    drifted: bool
    window_start_seq: int
    window_end_seq: int
    window_start_offset: int
    window_end_offset: int
    window_start_time: str
    window_end_time: str
    reference_size: int
    current_size: int
    effect: float | None = None
    severity: str = "none"
    p_value_adjusted: float | None = None
    missing_share: float | None = None
    partition: int | None = None
    alert: str = "none"
    tests: dict[str, Any] | None = None
    late_events: int = 0

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
        FieldSpec("current_size", "integer"),
        FieldSpec("effect", "number", required=False),
        FieldSpec("severity", "enum", choices=SEVERITIES, required=False),
        FieldSpec("p_value_adjusted", "number", required=False),
        FieldSpec("missing_share", "number", required=False),
        FieldSpec("partition", "integer", required=False),
        FieldSpec("alert", "enum", choices=ALERT_STATES, required=False,
                  description="Alert hygiene: fired once when k of the last m windows drifted."),
        FieldSpec("tests", "object", required=False,
                  description="Every test run: name -> {statistic, p_value}."),
        FieldSpec("late_events", "integer", required=False,
                  description="Events that arrived after their event-time window closed."),
    )
    DESCRIPTION = "The result of one drift test on one closed window."


class MetricEvent(Event):
    """One windowed metric: model quality on labelled predictions, or confidence stability."""

    metric: str
    value: float | None
    sample_size: int
    window_start_seq: int
    window_end_seq: int
    window_start_time: str
    window_end_time: str
    reference_value: float | None = None

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
    )
    DESCRIPTION = "A metric of one closed window (accuracy, F1, MAE, confidence mean, ...)."


class ReferenceProfileEvent(Event):
    """An explicit reference for (model, version), from ``driftline reference set``."""

    profile: dict[str, Any]

    FIELDS = (
        *COMMON_FIELDS,
        FieldSpec("profile", "object",
                  description='A profile document (format "driftline.profile").'),
    )
    DESCRIPTION = "Sets the frozen reference a model version's windows are tested against."


class LabelledPredictionEvent(Event):
    """A prediction joined with its label (``event_id`` is the prediction's)."""

    label_time: str
    prediction: Any
    label: Any
    probabilities: dict[str, float] | None = None
    features: dict[str, Any] | None = None

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

    kind: str
    severity: str
    subject: str
    summary: str
    dedup_key: str
    details: dict[str, Any] | None = None
    source_event_id: str | None = None

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


class DeadLetter(faust.Record, include_metadata=False, serializer="json"):
    """An input that could not be processed, kept whole so nothing is lost."""

    event_id: str
    schema_version: int
    topic: str
    partition: int | None
    offset: int | None
    key_b64: str | None
    value_b64: str
    reason: str
    timestamp: str
    app_id: str
    model_name: str | None = None
    model_version: str | None = None
    #: :class:`schemas.reasons.Reason`; letters written before codes existed have none
    reason_code: str | None = None
    #: size of the original value; when ``value_truncated`` only its first bytes are here,
    #: and the original is fetched from ``topic``/``partition``/``offset``
    value_size: int | None = None
    value_truncated: bool = False

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

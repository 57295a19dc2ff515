"""One declaration per event type, from which both validation and JSON Schema derive.

Keeping a single spec means the schema producers are handed and the checks the worker runs
cannot drift apart.
"""

from __future__ import annotations

import base64
import math
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from schemas.reasons import Reason

SCHEMA_VERSION = 1
SUPPORTED_SCHEMA_VERSIONS = frozenset({1})

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@/-]*$"
_NAME_RE = re.compile(NAME_PATTERN)
#: the form ``str(uuid.UUID(v))`` gives: lowercase, hyphenated
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

Kind = Literal[
    "uuid", "name", "timestamp", "schema_version", "number", "integer", "text", "long_text",
    "boolean", "feature_map", "probability_map", "scalar", "enum", "object", "base64",
]

#: bound on free text (alert summaries); objects are bounded by the payload size limit
MAX_LONG_TEXT = 16 * 1024
#: how deep a free-form object (red-team ``details``) may nest; deeper is a bad record,
#: not a recursion error somewhere downstream
MAX_DEPTH = 32


@dataclass(frozen=True)
class Limits:
    """Size bounds applied to every event (values come from ``settings.LimitSettings``)."""

    max_payload_bytes: int = 256 * 1024
    max_features: int = 500
    max_string_length: int = 256
    max_name_length: int = 128
    max_object_keys: int = 1000


@dataclass(frozen=True)
class FieldSpec:
    name: str
    kind: Kind
    required: bool = True
    nullable: bool = False
    description: str = ""
    choices: tuple[str, ...] = ()
    #: the value of an optional field that is absent (required fields have none)
    default: Any = None


#: Timestamps outside [1900, 2200) UTC are refused: later steps convert them to UTC and
#: compute window bounds from them, and ``0001-01-01T00:00:00+14:00`` cannot even be
#: converted (``OverflowError``).
MIN_TIME = datetime(1900, 1, 1, tzinfo=UTC)
MAX_TIME = datetime(2200, 1, 1, tzinfo=UTC)
#: integers are stored as BIGINT
MIN_INT, MAX_INT = -(2**63), 2**63 - 1
#: numbers larger than this overflow the statistics (squares, sums) to infinity
MAX_ABS_NUMBER = 1e100


class InvalidEvent(ValueError):
    """The event breaks its schema; ``reason`` says how, naming the field, and ``code``
    classifies it (:class:`schemas.reasons.Reason`)."""

    def __init__(self, reason: str, code: Reason = Reason.INVALID) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


_KNOWN_NAMES_MAX = 100_000
_known: dict[int, set[str]] = {}


def _known_names(max_length: int) -> set[str]:
    """Names already found valid under ``max_length`` (a bounded set, per limit)."""
    return _known.setdefault(max_length, set())


def _check_chars(field: str, value: str) -> str:
    """Text a database can store: no NUL (PostgreSQL refuses it in text and JSON) and no
    lone UTF-16 surrogate (not encodable as UTF-8)."""
    if "\x00" in value:
        raise InvalidEvent(f"{field}: must not contain NUL characters")
    if value.isascii():  # the common case, and no surrogate can be in it
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidEvent(f"{field}: contains a lone surrogate, not a character") from None
    return value


def check_json(value: Any, field: str, *, max_depth: int = MAX_DEPTH) -> None:
    """Raise :class:`InvalidEvent` unless ``value`` (decoded JSON) nests at most
    ``max_depth`` deep and holds only storable text and finite numbers, keys included.

    Iterative, so a hostile depth cannot exhaust the stack while it is being rejected.
    """
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            _check_chars(field, item)
        elif isinstance(item, float):
            if item - item != 0.0:
                raise InvalidEvent(f"{field}: must hold finite numbers only")
        elif isinstance(item, dict | list):
            if depth >= max_depth:
                raise InvalidEvent(f"{field}: nested deeper than {max_depth} levels")
            if isinstance(item, dict):
                for key, inner in item.items():
                    if isinstance(key, str):
                        _check_chars(f"{field} key", key)
                    pending.append((inner, depth + 1))
            else:
                pending.extend((inner, depth + 1) for inner in item)


def _check_name(field: str, value: Any, limits: Limits) -> str:
    if not isinstance(value, str):
        raise InvalidEvent(f"{field}: expected a string, got {type(value).__name__}")
    if not value:
        raise InvalidEvent(f"{field}: must not be empty")
    if len(value) > limits.max_name_length:
        raise InvalidEvent(f"{field}: longer than {limits.max_name_length} characters")
    if not _NAME_RE.match(value):
        raise InvalidEvent(f"{field}: {value[:40]!r} has characters outside {NAME_PATTERN}")
    return value


def _check_number(field: str, value: Any) -> float:
    # bool is an int subclass; a boolean where a number belongs is a producer bug.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidEvent(f"{field}: expected a number, got {type(value).__name__}")
    try:
        number = float(value)
    except OverflowError:  # an integer beyond float range
        raise InvalidEvent(f"{field}: {str(value)[:40]} is out of range") from None
    if not math.isfinite(number):
        raise InvalidEvent(f"{field}: must be a finite number")
    if abs(number) > MAX_ABS_NUMBER:
        raise InvalidEvent(f"{field}: {number:g} is out of range (|x| <= {MAX_ABS_NUMBER:g})")
    return number


def _check_text(field: str, value: Any, limits: Limits) -> str:
    if not isinstance(value, str):
        raise InvalidEvent(f"{field}: expected a string, got {type(value).__name__}")
    if len(value) > limits.max_string_length:
        raise InvalidEvent(f"{field}: longer than {limits.max_string_length} characters")
    return _check_chars(field, value)


def _check_scalar(field: str, value: Any, limits: Limits) -> float | str | bool:
    """A feature value, prediction or label: finite number, bounded string or boolean."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return _check_number(field, value)
    if isinstance(value, str):
        return _check_text(field, value, limits)
    raise InvalidEvent(
        f"{field}: expected a number, string, boolean or null, got {type(value).__name__}"
    )


def _check_timestamp(field: str, value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidEvent(f"{field}: expected an ISO-8601 string, got {type(value).__name__}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidEvent(f"{field}: {value[:40]!r} is not ISO-8601") from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise InvalidEvent(f"{field}: {value[:40]!r} has no time zone")
    try:
        in_range = MIN_TIME <= parsed.astimezone(UTC) < MAX_TIME
    except OverflowError:  # the zone pushes it past year 1 or 9999
        in_range = False
    if not in_range:
        raise InvalidEvent(f"{field}: {value[:40]!r} is outside {MIN_TIME.year}-"
                           f"{MAX_TIME.year} UTC")
    return value


def _plain_values(value: dict[str, Any], limits: Limits) -> bool:
    """True when a feature map needs no per-value work: floats that are all finite, missing
    values, and ASCII text without NUL within the length bound (the common event); anything
    else (False) goes through the per-value checks, which give the reason."""
    kinds = set(map(type, value.values()))
    if not kinds <= _PLAIN_TYPES:
        return False
    if str not in kinds:
        numbers: Any = value.values()
    else:
        numbers = []
        for v in value.values():
            if type(v) is str:
                if len(v) > limits.max_string_length or not v.isascii() or "\x00" in v:
                    return False
            elif v is not None:
                numbers.append(v)
    if float in kinds:
        if _NONE in kinds:
            numbers = [v for v in numbers if v is not None]
        # nan or inf anywhere, or a value past the bound, puts the sum of magnitudes past it
        # (a sum of values each within bounds may pass it too: the slow path then decides)
        return bool(sum(map(abs, numbers)) <= MAX_ABS_NUMBER)
    return True


_NONE = type(None)
_PLAIN_TYPES = frozenset({float, str, _NONE})


def _check_map(field: str, value: Any, limits: Limits, *, probabilities: bool) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidEvent(f"{field}: expected an object, got {type(value).__name__}")
    if not value:
        raise InvalidEvent(f"{field}: must not be empty")
    if len(value) > limits.max_features:
        raise InvalidEvent(f"{field}: {len(value)} entries, more than {limits.max_features}")
    known = _known_names(limits.max_name_length)
    if not probabilities and value.keys() <= known and _plain_values(value, limits):
        return dict(value)  # every name known valid, every value a finite float or fine text
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key not in known:  # names repeat from event to event: check each one once
            _check_name(f"{field} key", key, limits)
            if len(known) < _KNOWN_NAMES_MAX:
                known.add(key)
        if not probabilities:
            # the common cases first: a float, a string, a missing value
            kind = type(item)
            if kind is float and -MAX_ABS_NUMBER <= item <= MAX_ABS_NUMBER:  # NaN fails too
                out[key] = item
                continue
            if kind is str and len(item) <= limits.max_string_length:
                out[key] = _check_chars(f"{field}.{key}", item)
                continue
            if item is None:
                out[key] = None
                continue
        where = f"{field}.{key}"
        if probabilities:
            p = _check_number(where, item)
            if not 0.0 <= p <= 1.0:
                raise InvalidEvent(f"{where}: probability {p} outside [0, 1]")
            out[key] = p
        else:
            out[key] = None if item is None else _check_scalar(where, item, limits)
    if probabilities and abs(sum(out.values()) - 1.0) > 1e-3:
        raise InvalidEvent(f"{field}: probabilities sum to {sum(out.values()):.6g}, not 1")
    return out


def check_field(spec: FieldSpec, value: Any, limits: Limits) -> Any:
    """Return the validated (normalised) value or raise :class:`InvalidEvent`."""
    if value is None:
        if spec.nullable or not spec.required:
            return None
        raise InvalidEvent(f"{spec.name}: must not be null")
    match spec.kind:
        case "uuid":
            if not isinstance(value, str):
                raise InvalidEvent(f"{spec.name}: expected a UUID string")
            if _CANONICAL_UUID.fullmatch(value):  # already what str(UUID(value)) would give
                return value
            try:
                return str(uuid.UUID(value))
            except ValueError:
                raise InvalidEvent(f"{spec.name}: {value[:40]!r} is not a UUID") from None
        case "name":
            if type(value) is str and value in _known_names(limits.max_name_length):
                return value  # found valid under these limits before (model names repeat)
            name = _check_name(spec.name, value, limits)
            known = _known_names(limits.max_name_length)
            if len(known) < _KNOWN_NAMES_MAX:
                known.add(name)
            return name
        case "timestamp":
            return _check_timestamp(spec.name, value)
        case "schema_version":
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidEvent(f"{spec.name}: expected an integer")
            if value not in SUPPORTED_SCHEMA_VERSIONS:
                supported = sorted(SUPPORTED_SCHEMA_VERSIONS)
                raise InvalidEvent(f"{spec.name}: {value} is not supported (supported: {supported})")
            return value
        case "number":
            return _check_number(spec.name, value)
        case "integer":
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidEvent(f"{spec.name}: expected an integer")
            if not MIN_INT <= value <= MAX_INT:
                raise InvalidEvent(f"{spec.name}: {str(value)[:40]} is out of the 64-bit range")
            return value
        case "text":
            return _check_text(spec.name, value, limits)
        case "long_text":
            if not isinstance(value, str):
                raise InvalidEvent(f"{spec.name}: expected a string, got {type(value).__name__}")
            if len(value) > MAX_LONG_TEXT:
                raise InvalidEvent(f"{spec.name}: longer than {MAX_LONG_TEXT} characters")
            return _check_chars(spec.name, value)
        case "base64":
            if not isinstance(value, str):
                raise InvalidEvent(f"{spec.name}: expected a base64 string, got {type(value).__name__}")
            try:
                base64.b64decode(value, validate=True)
            except ValueError:  # binascii.Error is one
                raise InvalidEvent(f"{spec.name}: not valid base64") from None
            return value
        case "object":
            if not isinstance(value, dict):
                raise InvalidEvent(f"{spec.name}: expected an object, got {type(value).__name__}")
            if len(value) > limits.max_object_keys:
                raise InvalidEvent(f"{spec.name}: more than {limits.max_object_keys} keys")
            check_json(value, spec.name)
            return value
        case "boolean":
            if not isinstance(value, bool):
                raise InvalidEvent(f"{spec.name}: expected true or false")
            return value
        case "scalar":
            return _check_scalar(spec.name, value, limits)
        case "enum":
            if value not in spec.choices:
                raise InvalidEvent(f"{spec.name}: {str(value)[:40]!r} not one of {list(spec.choices)}")
            return value
        case "feature_map":
            return _check_map(spec.name, value, limits, probabilities=False)
        case "probability_map":
            return _check_map(spec.name, value, limits, probabilities=True)
    raise AssertionError(f"unknown field kind {spec.kind}")  # pragma: no cover


#: the names of each ``FIELDS`` tuple, by identity (records declare them once, at import)
_FIELD_NAMES: dict[int, tuple[tuple[FieldSpec, ...], frozenset[str]]] = {}


def _names_of(fields: tuple[FieldSpec, ...]) -> frozenset[str]:
    hit = _FIELD_NAMES.get(id(fields))
    if hit is not None and hit[0] is fields:
        return hit[1]
    names = frozenset(f.name for f in fields)
    if len(_FIELD_NAMES) < 1024:
        _FIELD_NAMES[id(fields)] = (fields, names)
    return names


def validate(obj: Any, fields: tuple[FieldSpec, ...], limits: Limits) -> dict[str, Any]:
    """Check a decoded JSON object against ``fields``; unknown keys are rejected."""
    if not isinstance(obj, dict):
        raise InvalidEvent(f"event: expected a JSON object, got {type(obj).__name__}")
    known = _names_of(fields)
    if not obj.keys() <= known:
        unknown = sorted(k for k in obj if k not in known)
        raise InvalidEvent(f"unknown field(s): {', '.join(map(str, unknown[:5]))}")
    out: dict[str, Any] = {}
    for spec in fields:
        if spec.name not in obj:
            if spec.required:
                raise InvalidEvent(f"{spec.name}: required field missing")
            out[spec.name] = spec.default
            continue
        out[spec.name] = check_field(spec, obj[spec.name], limits)
    return out


def _json_type(spec: FieldSpec, limits: Limits) -> dict[str, Any]:
    scalar: list[dict[str, Any]] = [
        {"type": "number"},
        {"type": "string", "maxLength": limits.max_string_length},
        {"type": "boolean"},
    ]
    name = {"type": "string", "pattern": NAME_PATTERN, "maxLength": limits.max_name_length}
    schema: dict[str, Any]
    match spec.kind:
        case "uuid":
            schema = {"type": "string", "format": "uuid"}
        case "name":
            schema = dict(name)
        case "timestamp":
            schema = {"type": "string", "format": "date-time"}
        case "schema_version":
            schema = {"type": "integer", "enum": sorted(SUPPORTED_SCHEMA_VERSIONS)}
        case "number":
            schema = {"type": "number"}
        case "integer":
            schema = {"type": "integer"}
        case "text":
            schema = {"type": "string", "maxLength": limits.max_string_length}
        case "long_text":
            schema = {"type": "string", "maxLength": MAX_LONG_TEXT}
        case "object":
            schema = {"type": "object"}
        case "base64":
            schema = {"type": "string", "contentEncoding": "base64"}
        case "boolean":
            schema = {"type": "boolean"}
        case "scalar":
            schema = {"anyOf": scalar}
        case "enum":
            schema = {"type": "string", "enum": list(spec.choices)}
        case "feature_map":
            schema = {
                "type": "object", "minProperties": 1, "maxProperties": limits.max_features,
                "propertyNames": name,
                "additionalProperties": {"anyOf": [*scalar, {"type": "null"}]},
            }
        case "probability_map":
            schema = {
                "type": "object", "minProperties": 1, "maxProperties": limits.max_features,
                "propertyNames": name,
                "additionalProperties": {"type": "number", "minimum": 0, "maximum": 1},
            }
    if spec.nullable or not spec.required:
        schema = {"anyOf": [schema, {"type": "null"}]}
    if not spec.required and spec.default is not None:
        schema["default"] = spec.default
    if spec.description:
        schema["description"] = spec.description
    return schema


def json_schema(
    title: str, fields: tuple[FieldSpec, ...], limits: Limits, description: str = ""
) -> Mapping[str, Any]:
    """A JSON Schema (draft 2020-12) for producers, derived from the same spec."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://driftline.dev/schemas/{title}.v{SCHEMA_VERSION}.json",
        "title": title,
        "description": description,
        "type": "object",
        "additionalProperties": False,
        "required": [f.name for f in fields if f.required],
        "properties": {f.name: _json_type(f, limits) for f in fields},
    }

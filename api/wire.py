"""The API's bodies for wire records, derived from the records' one declaration.

A record on the wire is declared once, as its ``FIELDS`` (:mod:`schemas.record`). The API's
request and response models for it are built here from those specs — names, types,
descriptions, and for requests the same bounds the worker's validator applies — so a field
added to a record reaches the API's bodies and its OpenAPI document without being written
again. (Requests are still validated by :func:`schemas.spec.validate` too, which applies the
size limits from settings; the model gives FastAPI its parsing and documentation.)
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, StrictBool, create_model

from schemas.record import Record
from schemas.spec import MAX_LONG_TEXT, NAME_PATTERN, SUPPORTED_SCHEMA_VERSIONS, FieldSpec, Limits

SCALAR = float | str | bool
#: the bounds of a request: the defaults of the worker's validator
LIMITS = Limits()


def _response_type(spec: FieldSpec) -> Any:
    match spec.kind:
        case "uuid":
            return uuid.UUID
        case "timestamp":
            return datetime
        case "schema_version" | "integer":
            return int
        case "number":
            return float
        case "boolean":
            return bool
        case "feature_map":
            return dict[str, SCALAR | None]
        case "probability_map":
            return dict[str, float]
        case "scalar":
            return SCALAR
        case "object":
            return dict[str, Any]
    return str  # name, text, long_text, enum, base64: stored values are shown as they are


def _request_field(spec: FieldSpec) -> tuple[Any, dict[str, Any]]:
    """A request field's type and its bounds, those of :func:`schemas.spec.check_field`."""
    match spec.kind:
        case "name":
            return str, {"pattern": NAME_PATTERN, "max_length": LIMITS.max_name_length}
        case "text":
            return str, {"max_length": LIMITS.max_string_length}
        case "long_text":
            return str, {"max_length": MAX_LONG_TEXT}
        case "enum":
            return Literal[spec.choices], {}  # type: ignore[valid-type]
        case "boolean":
            return StrictBool, {}
        case "schema_version":
            return Literal[tuple(sorted(SUPPORTED_SCHEMA_VERSIONS))], {}  # type: ignore[valid-type]
    return _response_type(spec), {}


def body_model(record: type[Record], name: str, *, request: bool = False,
               only: Iterable[str] | None = None, exclude: Iterable[str] = (),
               optional: Mapping[str, Any] | None = None, types: Mapping[str, Any] | None = None,
               descriptions: Mapping[str, str] | None = None, base: type[BaseModel] = BaseModel,
               extra: Mapping[str, tuple[Any, Any]] | None = None) -> type[BaseModel]:
    """A pydantic model named ``name`` with ``record``'s fields (``only`` those, without
    ``exclude``), in their declared order.

    ``request`` adds the validator's bounds (name pattern, lengths, enum choices, strict
    booleans) and lets optional fields be left out (a response lists every field, null where
    a record may have none); ``optional`` makes more request fields optional with the given
    default; ``types`` and
    ``descriptions`` override a field's type or text; ``extra`` adds fields that are not on the
    wire (a stored row's bookkeeping)."""
    wanted = set(only) if only is not None else None
    skipped = set(exclude)
    optional = dict(optional or {})
    types = dict(types or {})
    descriptions = dict(descriptions or {})
    fields: dict[str, Any] = {}
    for spec in record.FIELDS:
        if (wanted is not None and spec.name not in wanted) or spec.name in skipped:
            continue
        kind, bounds = _request_field(spec) if request else (_response_type(spec), {})
        kind = types.get(spec.name, kind)
        # absent on the wire means its default; a response always carries every field
        default = optional[spec.name] if spec.name in optional else spec.default
        if spec.nullable or ((not spec.required or spec.name in optional) and default is None):
            kind = kind | None
        info: dict[str, Any] = dict(bounds)
        text = descriptions.get(spec.name, spec.description)
        if text:
            info["description"] = text
        if request and (spec.name in optional or not spec.required):
            info["default"] = default
        fields[spec.name] = (kind, Field(**info))
    missing = (wanted or set()) - set(fields) - set(extra or {})
    if missing:
        raise ValueError(f"{record.__name__} has no field(s) {sorted(missing)}")
    fields.update(extra or {})
    return create_model(name, __base__=base, __module__=base.__module__, **fields)

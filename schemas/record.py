"""The base of every record on the wire: its fields are generated from its ``FIELDS``.

A record type is declared once, as a tuple of :class:`schemas.spec.FieldSpec`; validation
(:func:`schemas.spec.validate`), the exported JSON Schema (:func:`schemas.spec.json_schema`)
and the Python class — a keyword-only dataclass with one attribute per spec, defaults for the
optional ones — all derive from it. Annotations in a record's body are refused, so a field can
never be declared twice and disagree. Records serialise to plain JSON objects (no framework
metadata), which any consumer can read; importing them loads no faust.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, ClassVar, Self

import orjson

from schemas.spec import FieldSpec, Kind

#: the Python type each kind holds once validated (for the generated annotations only)
PYTHON_TYPES: dict[Kind, str] = {
    "uuid": "str", "name": "str", "timestamp": "str", "schema_version": "int",
    "number": "float", "integer": "int", "text": "str", "long_text": "str", "boolean": "bool",
    "feature_map": "dict[str, Any]", "probability_map": "dict[str, float]", "scalar": "Any",
    "enum": "str", "object": "dict[str, Any]", "base64": "str",
}


class Record:
    """A wire record. Subclasses set ``FIELDS`` (and ``DESCRIPTION``) and nothing else."""

    FIELDS: ClassVar[tuple[FieldSpec, ...]] = ()
    DESCRIPTION: ClassVar[str] = ""
    #: field names in declaration order
    NAMES: ClassVar[tuple[str, ...]] = ()

    if TYPE_CHECKING:  # attributes come from FIELDS at class creation
        def __init__(self, **fields: Any) -> None: ...
        def __getattr__(self, name: str) -> Any: ...

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = {name for name in cls.__dict__.get("__annotations__", {})
               if name not in ("FIELDS", "DESCRIPTION", "NAMES")}
        if own:
            raise TypeError(f"{cls.__name__}: declare fields in FIELDS, not as annotations "
                            f"({', '.join(sorted(own))})")
        names = tuple(spec.name for spec in cls.FIELDS)
        if len(set(names)) != len(names):
            raise TypeError(f"{cls.__name__}: a field is declared twice in FIELDS")
        cls.NAMES = names
        cls.__annotations__ = {}
        for spec in cls.FIELDS:
            nullable = spec.nullable or not spec.required
            cls.__annotations__[spec.name] = PYTHON_TYPES[spec.kind] + (" | None" if nullable else "")
            if spec.required:
                if spec.name in cls.__dict__:
                    delattr(cls, spec.name)
            else:
                setattr(cls, spec.name, spec.default)
        dataclasses.dataclass(cls, kw_only=True)

    def asdict(self) -> dict[str, Any]:
        """The fields as a dict (shallow: nested objects are shared, not copied)."""
        return {name: getattr(self, name) for name in self.NAMES}

    def dumps(self) -> bytes:
        """The record as a JSON object, as it goes on the wire."""
        return orjson.dumps(self.asdict(), option=orjson.OPT_NON_STR_KEYS)

    @classmethod
    def loads(cls, raw: bytes) -> Self:
        """A record from JSON this project wrote (unvalidated: use ``decode`` for input)."""
        obj = orjson.loads(raw)
        return cls(**{name: obj[name] for name in cls.NAMES if name in obj})

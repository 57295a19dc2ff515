"""JSON Schemas for producers, derived from the same field specs the worker validates with."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from schemas.events import INPUT_EVENTS, OUTPUT_EVENTS, DeadLetter
from schemas.governance import GOVERNANCE_EVENTS
from schemas.record import Record
from schemas.redteam import RedTeamResult
from schemas.spec import Limits, json_schema


def all_schemas(limits: Limits) -> Mapping[str, Mapping[str, Any]]:
    records: dict[str, type[Record]] = {**INPUT_EVENTS, "RedTeamResult": RedTeamResult,
                                        **OUTPUT_EVENTS, **GOVERNANCE_EVENTS, "DeadLetter": DeadLetter}
    return {name: json_schema(name, record.FIELDS, limits, record.DESCRIPTION)
            for name, record in records.items()}

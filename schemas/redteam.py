"""Security-test (red-team) results: one attack tried against one model version.

The same :data:`RedTeamResult.FIELDS` validate the ``red-team-results`` topic and
``POST /red-team/results``, so both paths accept exactly the same records.
"""

from __future__ import annotations

from typing import Any

from schemas.events import COMMON_FIELDS, Event
from schemas.spec import FieldSpec, InvalidEvent

#: the usual scale of security findings (not the drift severities: "critical" exists here)
RED_TEAM_SEVERITIES = ("info", "low", "medium", "high", "critical")


class RedTeamResult(Event):
    FIELDS = (
        *COMMON_FIELDS,
        FieldSpec("attack_type", "name",
                  description="Family of the attack: prompt_injection, evasion, extraction..."),
        FieldSpec("success", "boolean", description="True when the attack achieved its goal."),
        FieldSpec("severity", "enum", choices=RED_TEAM_SEVERITIES),
        FieldSpec("attack_name", "name", required=False,
                  description="The probe within the family; regressions compare per probe."),
        FieldSpec("details", "object", required=False,
                  description="Free-form evidence; configured PII fields are hashed before storage."),
    )
    DESCRIPTION = "The outcome of one security test against one model version."


def check_storable(record: RedTeamResult) -> RedTeamResult:
    """Reject what the schema allows but PostgreSQL cannot store (NUL characters in JSON)."""
    if record.details is not None and _has_nul(record.details):
        raise InvalidEvent("details: must not contain NUL characters")
    return record


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False

"""Red-team results from their topic into PostgreSQL, PII hashed before storage.

Same contract as the other sinks (:mod:`agents.sinks`): a batch per ``take_events``,
idempotent on ``event_id``, malformed records and lasting write failures dead-lettered.
"""

from __future__ import annotations

import faust

from agents.sinks import sink
from faust_app import app, settings
from schemas.pii import hash_pii
from schemas.redteam import RedTeamResult, check_storable
from storage.repository import save_red_team_results
from streams.topics import red_team_results_topic

_KEY = settings.security.hmac_key.get_secret_value().encode() if settings.security.hmac_key else None


def pseudonymised(record: RedTeamResult) -> RedTeamResult:
    if record.details is None or not settings.security.pii_fields:
        return record
    details = hash_pii(record.details, settings.security.pii_fields, _KEY)
    return RedTeamResult(**{**record.asdict(), "details": details})


@app.agent(red_team_results_topic, concurrency=1)
async def store_red_team_results(stream: faust.StreamT[bytes]) -> None:
    await sink(stream, RedTeamResult, "red_team_results", save_red_team_results,
               prepare=lambda record: pseudonymised(check_storable(record)))

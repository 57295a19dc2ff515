"""Red-team results from their topic into PostgreSQL, PII hashed before storage.

Same contract as the other sinks (:mod:`agents.sinks`): a batch per ``take_events``,
idempotent on ``event_id``, malformed records and lasting write failures dead-lettered.
"""

from __future__ import annotations

from typing import Any

import faust
from faust.types import EventT

from agents.sinks import LIMITS, write_batch
from faust_app import app, settings
from schemas.events import decode
from schemas.pii import hash_pii
from schemas.redteam import RedTeamResult, check_storable
from schemas.spec import InvalidEvent
from storage.repository import save_red_team_results
from streams.deadletters import send_dead_letter
from streams.telemetry import handling
from streams.topics import red_team_results_topic

_KEY = settings.security.hmac_key.get_secret_value().encode() if settings.security.hmac_key else None


def pseudonymised(record: RedTeamResult) -> RedTeamResult:
    if record.details is None or not settings.security.pii_fields:
        return record
    details = hash_pii(record.details, settings.security.pii_fields, _KEY)
    return RedTeamResult(**{**record.asdict(), "details": details})


@app.agent(red_team_results_topic, concurrency=1)
async def store_red_team_results(stream: faust.StreamT[bytes]) -> None:
    async for events in stream.take_events(500, within=1.0):
        with handling(events):
            batch: list[tuple[EventT, Any]] = []
            for event in events:
                try:
                    record = check_storable(decode(event.message.value, RedTeamResult, LIMITS))
                    batch.append((event, pseudonymised(record)))
                except InvalidEvent as exc:
                    await send_dead_letter(event, exc.reason)
            await write_batch("red_team_results", save_red_team_results, batch)

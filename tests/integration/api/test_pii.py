"""Configured PII never reaches the database, or an export, in clear: every table a model's
data lands in is dumped and grepped, on both stores."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from schemas.events import DeadLetter
from schemas.events import dead_letter as make_dead_letter
from schemas.pii import pseudonym
from storage.db import make_engine
from storage.governance import RetrainRequestRow
from storage.models import DeadLetterRow, DriftResult, LabelledPrediction
from storage.pii import policy_from
from storage.repository import save_dead_letters, save_labelled
from storage.service import AuditEntry, RedTeamRow
from tests.integration.api.conftest import HMAC_KEY

pytestmark = pytest.mark.integration


def labelled(model: str, when: datetime, email: str, user: str) -> SimpleNamespace:
    return SimpleNamespace(
        event_id=str(uuid.uuid4()), timestamp=when.isoformat(), model_name=model, model_version="1",
        label_time=(when + timedelta(minutes=1)).isoformat(), prediction="yes",
        probabilities={"yes": 0.7, "no": 0.3}, features={"EMAIL": email, "age": 41.0, "user_id": user},
        label="no")


def dead_letter(model: str, when: datetime, value: bytes, offset: int) -> DeadLetter:
    """A dead letter as the worker builds it (a real record, so a field the sinks add cannot be
    missing here)."""
    return make_dead_letter(topic="features", partition=0, offset=offset, key=model.encode(),
                            value=value, reason="features.age: expected a number",
                            app_id=f"driftline-{model}", clock=when.isoformat)


def dump(engine, model: str, request_id: str) -> str:
    """Every row the model's data produced, every column, as text."""
    parts = []
    with engine.connect() as conn:
        for table, where in ((LabelledPrediction, LabelledPrediction.model_name == model),
                             (DeadLetterRow, DeadLetterRow.model_name == model),
                             (RedTeamRow, RedTeamRow.model_name == model),
                             (DriftResult, DriftResult.model_name == model),
                             (RetrainRequestRow, RetrainRequestRow.model_name == model),
                             (AuditEntry, AuditEntry.request_id == request_id)):
            for row in conn.execute(select(table.__table__).where(where)):
                parts.extend(v.decode("utf-8", "replace") if isinstance(v, bytes)
                             else json.dumps(v, default=str) for v in row)
    return "\n".join(parts)


def test_pii_is_pseudonymised_in_every_table_and_in_exports(client, keys, database_url, unique):
    email, user = f"{unique}@example.com", f"user-{unique}"
    now = datetime.now(UTC).replace(microsecond=0)
    # the sinks' own engine: made with the policy, as agents/sinks.py makes it
    engine = make_engine(database_url, pii=policy_from(["email", "user_id"], HMAC_KEY))
    try:
        assert save_labelled(engine, [labelled(unique, now, email, user),
                                      labelled(unique, now + timedelta(seconds=1), email, user)]) == 2
        bad = json.dumps({"model_name": unique, "features": {"email": email, "age": "old"}}).encode()
        assert save_dead_letters(engine, [dead_letter(unique, now, bad, 7),
                                          dead_letter(unique, now, f"not json {email}".encode(), 8)]) == 2
    finally:
        engine.dispose()
    r = client.post("/red-team/results", params={"email": email},
                    json={"results": [{"model_name": unique, "model_version": "1", "attack_type": "leak",
                                       "success": True, "severity": "high",
                                       "details": {"victim": {"Email": email}, "user_id": user}}]},
                    headers={**keys.operator, "X-Request-ID": f"{unique}-pii"})
    assert r.status_code == 201, r.text

    stored = dump(client.app.state.engine, unique, f"{unique}-pii")
    assert stored and email not in stored and user not in stored, stored
    key = HMAC_KEY.encode()
    assert pseudonym(email, key) in stored and pseudonym(user, key) in stored  # joinable still
    assert '"age":"old"' in stored  # the rest of a dead letter is kept for diagnosis

    for fmt in ("csv", "parquet"):
        r = client.get("/export/labelled-predictions", params={"model": unique, "format": fmt},
                       headers=keys.operator)
        assert r.status_code == 200
        assert email.encode() not in r.content and user.encode() not in r.content
        assert pseudonym(email, key).encode() in r.content


def test_rows_stored_before_pii_was_configured_are_pseudonymised_in_exports(client, keys, database_url,
                                                                           unique):
    email = f"{unique}@example.com"
    engine = make_engine(database_url)  # no policy: an older deployment's rows
    try:
        save_labelled(engine, [labelled(unique, datetime.now(UTC), email, "u")])
    finally:
        engine.dispose()
    r = client.get("/export/labelled-predictions", params={"model": unique}, headers=keys.operator)
    assert r.status_code == 200 and email not in r.text

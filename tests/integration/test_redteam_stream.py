"""Red-team results through their topic: a real worker stores them (PII hashed) and
dead-letters the malformed ones."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from schemas.pii import pseudonym
from storage.models import DeadLetterRow
from storage.pii import PiiPolicy
from storage.service import RedTeamRow
from tests.integration.conftest import produce

pytestmark = pytest.mark.integration
KEY = "stream-hmac-key-0123456789"


def result(model: str, **overrides) -> dict:
    return {"event_id": str(uuid.uuid4()), "schema_version": 1, "model_name": model,
            "model_version": "3", "timestamp": datetime.now(UTC).isoformat(),
            "attack_type": "prompt_injection", "attack_name": "dan", "success": True,
            "severity": "critical", **overrides}


def wait_for(fetch, done, timeout=90.0):
    deadline = time.monotonic() + timeout
    value = fetch()
    while not done(value) and time.monotonic() < deadline:
        time.sleep(0.5)
        value = fetch()
    return value


def test_results_land_in_postgresql_and_bad_ones_are_dead_lettered(worker_factory, broker, engine, unique):
    model = f"{unique}-model"
    email = f"{unique}@example.com"
    good = [result(model, details={"email": email, "transcript": "..."}),
            result(model, success=False, severity="low", attack_name=None)]
    bad = [b"{not json", json.dumps(result(model, severity="apocalyptic")).encode(),
           json.dumps({**result(model), "success": "yes"}).encode(),
           json.dumps(result(model, details={"x": "nul\u0000"})).encode()]
    worker_factory(SECURITY__PII_FIELDS="email", SECURITY__HMAC_KEY=KEY)
    topic = f"{unique}-red-team-results"
    items = [(model.encode(), json.dumps(r).encode()) for r in good] + [(model.encode(), b) for b in bad]
    produce(broker, topic, items + items[:1])  # the first one twice: stored once

    def stored():
        with Session(engine) as session:
            return session.scalars(select(RedTeamRow).where(RedTeamRow.model_name == model)).all()

    def letters():
        with Session(engine) as session:
            return session.scalars(select(DeadLetterRow).where(DeadLetterRow.topic == topic)).all()

    rows = wait_for(stored, lambda rows: len(rows) >= 2)
    dead = wait_for(letters, lambda rows: len(rows) >= len(bad))
    assert sorted(str(r.event_id) for r in rows) == sorted(r["event_id"] for r in good)
    by_id = {str(r.event_id): r for r in rows}
    first = by_id[good[0]["event_id"]]
    assert first.source == "stream" and first.success and first.severity == "critical"
    assert first.details == {"email": pseudonym(email, KEY.encode()), "transcript": "..."}
    assert by_id[good[1]["event_id"]].attack_name is None
    with engine.connect() as conn:
        raw = conn.execute(text("SELECT r::text FROM red_team_results r WHERE model_name = :m"),
                           {"m": model}).scalars().all()
    assert raw and not any(email in row for row in raw)

    assert len(dead) == len(bad)
    # with PII fields configured the database keeps dead letters pseudonymised too (JSON field by
    # field, anything else whole); the dead-letters topic keeps the original bytes for replay
    policy = PiiPolicy(("email",), KEY.encode())
    assert sorted(d.value for d in dead) == sorted(policy.raw(b) for b in bad)
    assert b"{not json" not in [d.value for d in dead]
    reasons = " | ".join(sorted(d.reason for d in dead))
    for expected in ("not valid JSON", "severity", "success", "NUL"):
        assert expected in reasons, reasons

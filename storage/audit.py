"""Writing and classifying audit entries."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Engine, insert

from storage.db import with_retries
from storage.service import AuditEntry


def outcome(status: int) -> str:
    """How a call ended, in words an auditor filters on."""
    if status < 400:
        return "success"
    if status in (401, 403, 429):
        return "denied"
    if status < 500:
        return "rejected"
    return "error"


def write_audit(engine: Engine, entry: dict[str, Any], *, retries: int = 2) -> None:
    row = {"id": uuid.uuid4(), "outcome": outcome(entry["status_code"]), **entry}

    def run() -> None:
        with engine.begin() as conn:
            conn.execute(insert(AuditEntry), [row])

    with_retries(run, retries=retries)

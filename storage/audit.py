"""Writing and classifying audit entries.

A mutation is audited in two steps: :func:`begin_audit` writes the row (outcome
``pending``) *before* anything changes, and :func:`finish_audit` records how it ended. A
caller that cannot write the first row must not go on, so no mutation happens unaudited;
a row left ``pending`` says a call started whose end could not be recorded. Where the
mutation is a write to this database, :func:`audit_row` lets it share the transaction.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, update

from storage.db import with_retries
from storage.pii import policy_of
from storage.service import AuditEntry

PENDING = "pending"


def outcome(status: int) -> str:
    """How a call ended, in words an auditor filters on."""
    if status < 400:
        return "success"
    if status in (401, 403, 429):
        return "denied"
    if status < 500:
        return "rejected"
    return "error"


def storable(value: Any) -> Any:
    """``value`` (JSON-like) with text a database can keep: NUL and lone surrogates, which
    PostgreSQL refuses, shown as escapes. An audit row records what was asked, hostile bytes
    included; it must never fail because of them."""
    if isinstance(value, str):
        if "\x00" in value or not value.isascii():
            value = value.replace("\x00", "\\x00").encode("utf-8", "backslashreplace").decode()
        return value
    if isinstance(value, dict):
        return {storable(str(k)): storable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [storable(v) for v in value]
    return value


_TEXT = ("request_id", "actor", "role", "method", "path", "action", "client")


def _details(bind: Engine | Connection, details: Any) -> Any:
    # through JSON first: what cannot be serialised is shown as text, never refused
    document = storable(json.loads(json.dumps(details, default=str)))
    policy = policy_of(bind)
    return policy.document(document) if policy is not None else document


def _row(bind: Engine | Connection, entry: dict[str, Any]) -> dict[str, Any]:
    row = {"id": uuid.uuid4(), "outcome": outcome(entry["status_code"]), **entry}
    for name in _TEXT:
        if isinstance(row.get(name), str):
            row[name] = storable(row[name])
    if row.get("details") is not None:
        row["details"] = _details(bind, row["details"])
    return row


def write_audit(engine: Engine, entry: dict[str, Any], *, retries: int = 2) -> None:
    """One finished call, written after the fact (refusals that changed nothing)."""
    row = _row(engine, entry)

    def run() -> None:
        with engine.begin() as conn:
            conn.execute(insert(AuditEntry), [row])

    with_retries(run, retries=retries)


@dataclass(frozen=True)
class AuditHandle:
    """Which row :func:`finish_audit` completes (the table's key is (id, timestamp))."""

    id: uuid.UUID
    timestamp: datetime


def begin_audit(engine: Engine, entry: dict[str, Any], *, retries: int = 2) -> AuditHandle:
    """Write ``entry`` as a ``pending`` row; raises if it cannot be written."""
    row = {**_row(engine, {**entry, "status_code": 0}), "outcome": PENDING}

    def run() -> None:
        with engine.begin() as conn:
            conn.execute(insert(AuditEntry), [row])

    with_retries(run, retries=retries)
    return AuditHandle(row["id"], row["timestamp"])


def finish_audit(engine: Engine, handle: AuditHandle, *, status: int, duration_ms: float,
                 details: dict[str, Any] | None, action: str | None = None,
                 retries: int = 2) -> None:
    """Record how the call of ``handle`` ended (``action`` names the route's template once
    routing has found it)."""
    values: dict[str, Any] = {"status_code": status, "outcome": outcome(status),
                              "duration_ms": duration_ms}
    if action:
        values["action"] = storable(action)
    if details:
        values["details"] = _details(engine, details)

    def run() -> None:
        with engine.begin() as conn:
            conn.execute(update(AuditEntry).where(AuditEntry.id == handle.id,
                                                  AuditEntry.timestamp == handle.timestamp)
                         .values(**values))

    with_retries(run, retries=retries)


# -- commands run from a shell ---------------------------------------------------------------

def local_user() -> str:
    """The operating-system user running a command: the actor of a CLI mutation."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name (some containers)
        return "unknown user"


def cli_entry(action: str, *, status: int = 200, details: dict[str, Any] | None = None,
              started: datetime | None = None, duration_ms: float = 0.0) -> dict[str, Any]:
    """An audit entry for ``driftline <action>`` run by the local user (``role`` ``cli``)."""
    return {"timestamp": started or datetime.now(UTC), "request_id": uuid.uuid4().hex,
            "actor": local_user(), "key_id": None, "role": "cli", "method": "CLI",
            "path": f"driftline {action}"[:512], "action": f"CLI {action}"[:256],
            "status_code": status, "client": None, "duration_ms": duration_ms,
            "details": details}


def audit_row(conn: Connection, entry: dict[str, Any]) -> None:
    """Write ``entry`` inside the caller's transaction: the change and its audit row commit
    together or not at all."""
    conn.execute(insert(AuditEntry), [_row(conn, entry)])


@dataclass
class AuditedCall:
    """What :func:`audited` records when the block ends: set ``status`` to say how it ended
    (an exception that leaves it at 200 is recorded as 500), add to ``details``."""

    status: int = 200
    details: dict[str, Any] = field(default_factory=dict)


class AuditUnavailable(RuntimeError):
    """The audit row could not be written, so the mutation was not attempted."""


@contextlib.contextmanager
def audited(engine: Engine, entry: dict[str, Any]) -> Iterator[AuditedCall]:
    """Run a mutation outside this database (MLflow, Kafka) between a ``pending`` audit row
    and its outcome; raises :class:`AuditUnavailable` before the block runs if the row
    cannot be written."""
    try:
        handle = begin_audit(engine, entry)
    except Exception as exc:
        raise AuditUnavailable(f"the audit log is unavailable ({exc.__class__.__name__}); "
                               "nothing was changed") from exc
    call = AuditedCall(details=dict(entry.get("details") or {}))
    began = time.perf_counter()
    try:
        yield call
    except BaseException:
        if call.status < 400:
            call.status = 500
        raise
    finally:
        finish_audit(engine, handle, status=call.status, details=call.details or None,
                     duration_ms=round((time.perf_counter() - began) * 1000, 3))

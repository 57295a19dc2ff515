"""Pseudonymisation at the one door every write goes through.

An engine made with PII fields (``SECURITY__PII_FIELDS``) carries a :class:`PiiPolicy` in its
execution options; the repository's insert helpers apply it to every JSON column (drift
results, labelled predictions' features, red-team details, audit details, decisions) and to
the raw bytes of dead letters before the row reaches the database, so no writer can forget
it. Equal values keep equal pseudonyms (a keyed HMAC), so rows still group and join.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import JSON, Connection, Engine, LargeBinary, Table

from schemas.pii import hash_pii, pseudonym

OPTION = "driftline_pii"


@dataclass(frozen=True)
class PiiPolicy:
    fields: tuple[str, ...]
    key: bytes

    def __post_init__(self) -> None:
        if not self.fields or not self.key:
            raise ValueError("a PII policy needs fields and a key")

    def document(self, value: Any) -> Any:
        """A JSON-like value with every configured field's value pseudonymised."""
        return hash_pii(value, self.fields, self.key)

    def raw(self, data: bytes | None) -> bytes | None:
        """Raw message bytes (a dead letter's value): a JSON document is pseudonymised field
        by field; anything else cannot be searched for the fields, so it is kept only as its
        pseudonym (the original stays in the ``dead-letters`` topic, for replay)."""
        if data is None:
            return None
        try:
            parsed = orjson.loads(data)
        except orjson.JSONDecodeError:
            return pseudonym(data.decode("utf-8", "replace"), self.key).encode()
        if isinstance(parsed, dict | list):
            return orjson.dumps(self.document(parsed))
        return data if not isinstance(parsed, str) else pseudonym(parsed, self.key).encode()


def policy_from(fields: Sequence[str], key: str | bytes | None) -> PiiPolicy | None:
    """The policy for settings' ``pii_fields`` and ``hmac_key`` (None when no fields)."""
    if not fields:
        return None
    if not key:
        raise ValueError("PII fields are configured but no HMAC key was given")
    return PiiPolicy(tuple(fields), key.encode() if isinstance(key, str) else key)


def policy_for(security: Any) -> PiiPolicy | None:
    """The policy of the settings' ``security`` group (``SECURITY__PII_FIELDS``,
    ``SECURITY__HMAC_KEY``)."""
    key = security.hmac_key.get_secret_value() if security.hmac_key is not None else None
    return policy_from(security.pii_fields, key)


def attach(engine: Engine, policy: PiiPolicy | None) -> Engine:
    if policy is not None:
        engine.update_execution_options(**{OPTION: policy})
    return engine


def policy_of(bind: Engine | Connection) -> PiiPolicy | None:
    policy = bind.get_execution_options().get(OPTION)
    return policy if isinstance(policy, PiiPolicy) else None


def pseudonymised(bind: Engine | Connection, table: Table,
                  rows: Sequence[dict[str, Any]]) -> Sequence[dict[str, Any]]:
    """``rows`` for ``table`` as they may be stored under ``bind``'s policy."""
    policy = policy_of(bind)
    if policy is None or not rows:
        return rows
    documents = [c.name for c in table.columns if isinstance(c.type, JSON)]
    binaries = [c.name for c in table.columns if isinstance(c.type, LargeBinary)]
    if not documents and not binaries:
        return rows
    out = []
    for row in rows:
        row = dict(row)
        for name in documents:
            if row.get(name) is not None:
                row[name] = policy.document(row[name])
        for name in binaries:
            if row.get(name) is not None:
                row[name] = policy.raw(row[name])
        out.append(row)
    return out

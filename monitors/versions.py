"""Which versions of a model are live; a version unseen for a while is forgotten.

Time is event time: a version expires when the newest event of any version of the model is
more than the TTL past the expired version's last event.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import orjson

from monitors.drift_monitor import StateStore
from monitors.state import versions_key


def touch(store: StateStore, namespace: str, model: str, version: str, timestamp: str,
          ttl: timedelta) -> list[str]:
    """Record ``version`` as seen at ``timestamp``; return the versions that have expired."""
    key = versions_key(namespace, model)
    raw = store.get(key)
    seen: dict[str, str] = orjson.loads(raw) if raw is not None else {}
    changed = raw is None or timestamp > seen.get(version, "")
    if changed:
        seen[version] = timestamp
    newest = datetime.fromisoformat(max(seen.values()))
    expired = [v for v, last in seen.items()
               if v != version and newest - datetime.fromisoformat(last) > ttl]
    for v in expired:
        del seen[v]
    if changed or expired:
        store.set(key, orjson.dumps(seen))
    return expired

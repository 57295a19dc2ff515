"""The durable retrain queue: which accepted requests go to the training service next.

Pure: the training agent keeps the entries in a changelog-backed table and asks
:func:`next_to_submit` which ones the trainer has capacity for. Order: performance drop >
model drift > data drift (a manual request above all: a person is waiting), then severity,
then age — the request's ``priority`` already encodes kind and severity
(:attr:`governance.ledger.Trigger.priority`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

import orjson

#: a finished request is remembered this long, so a redelivered request is not run again
DONE_RETENTION_DAYS = 30


@dataclass(frozen=True)
class QueueEntry:
    request_id: str
    model_name: str
    model_version: str
    registered_model: str
    priority: int
    severity: str
    trigger_kind: str
    requested_at: str  # the request's timestamp (ISO-8601)
    #: the changelog partition the entry lives in (its model's partition)
    partition: int
    #: "queued" (waiting for capacity) or "done" (submitted, or failed to be)
    state: str = "queued"
    done_at: str | None = None
    trace: dict[str, str] | None = None

    def order(self) -> tuple[int, str, str]:
        return (-self.priority, self.requested_at, self.request_id)

    def encode(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def decode(cls, raw: bytes) -> QueueEntry:
        return cls(**orjson.loads(raw))

    @classmethod
    def of(cls, request: Any, partition: int, trace: dict[str, str] | None = None
           ) -> QueueEntry:
        return cls(request_id=request.request_id, model_name=request.model_name,
                   model_version=request.model_version,
                   registered_model=request.registered_model, priority=request.priority,
                   severity=request.severity, trigger_kind=request.trigger_kind,
                   requested_at=request.timestamp, partition=partition, trace=trace)


def waiting(entries: Iterable[QueueEntry]) -> list[QueueEntry]:
    """The queued entries, most urgent first."""
    return sorted((e for e in entries if e.state == "queued"), key=QueueEntry.order)


def next_to_submit(entries: Iterable[QueueEntry], running_models: Iterable[str], *,
                   max_total: int, max_per_model: int) -> list[QueueEntry]:
    """The queued entries to submit now, in order, within ``max_total`` running jobs in all
    and ``max_per_model`` per model (``running_models``: one name per running job)."""
    running = Counter(running_models)
    total = sum(running.values())
    chosen = []
    for entry in waiting(entries):
        if total >= max_total:
            break
        if running[entry.model_name] >= max_per_model:
            continue  # a less urgent request of another model may still go
        chosen.append(entry)
        running[entry.model_name] += 1
        total += 1
    return chosen

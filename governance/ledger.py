"""When drift becomes a retrain request: trigger rules, cooldown, daily limit, merging, priority.

Pure: no faust, no clock, no environment. The agent hands :meth:`RetrainPlanner.decide` the
model's triggers of one batch, the model's :class:`LedgerState` (kept in a changelog-backed
table) and the time from its clock; it gets back one :class:`Decision` per trigger and the
new state. Decision ids are uuid5 of the trigger, so a replayed trigger yields the same id.

Triggers are fired drift events (:func:`as_trigger`) and manual triggers
(:func:`manual_trigger`: an operator through the API, or any producer on ``retrain-triggers``).
A manual trigger gets no exemption: it passes the same merge window, cooldown and daily limit.

Per model, in one batch, the most urgent trigger (:func:`priority_key`) is the candidate;
the other triggers merge into it. The candidate is then

* ``merged`` into the last accepted request if that was accepted less than the merge window ago
  (concurrent triggers of one incident, split across batches, make one request);
* ``suppressed_cooldown`` if the last accepted request is younger than the cooldown;
* ``suppressed_daily_limit`` if the model already had ``daily_limit`` requests this UTC day;
* ``accepted`` otherwise.
"""

from __future__ import annotations

import heapq
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

NAMESPACE = uuid.UUID("0c8e7f52-3c52-4f4e-9a3b-726574726169")
MANUAL = "manual"
#: Larger is more urgent. A manual trigger ranks above every drift kind: a person decided,
#: having usually looked at the same evidence, and is waiting for the result. It only wins
#: *within* what the ledger allows (it merges other triggers of its batch into its request
#: and is submitted first); it never bypasses the cooldown or the daily limit.
KIND_RANK = {MANUAL: 4, "performance_drop": 3, "estimated_performance_drop": 3, "model_drift": 2,
             "data_drift": 1}
#: the kinds a rule can switch on or off; manual triggers are always decided
DRIFT_TRIGGER_KINDS = ("performance_drop", "estimated_performance_drop", "model_drift",
                       "data_drift")
SEVERITY_RANK = {"none": 0, "low": 1, "medium": 2, "high": 3}
#: windows whose drifted features are remembered for ``min_drifted_features`` > 1
MAX_PENDING_WINDOWS = 8
#: trigger ids remembered per model to drop duplicates (a day's triggers, at most)
MAX_RECENT_TRIGGERS = 500


@dataclass(frozen=True)
class RetrainRule:
    """The trigger rules of one model."""

    #: an estimated drop triggers only when asked for (RETRAIN__TRIGGERS): no label of the
    #: new regime exists yet to train on
    triggers: frozenset[str] = frozenset(DRIFT_TRIGGER_KINDS) - {"estimated_performance_drop"}
    min_severity: str = "medium"
    min_drifted_features: int = 1
    cooldown: timedelta = timedelta(hours=6)
    daily_limit: int = 3
    merge_window: timedelta = timedelta(seconds=60)

    def __post_init__(self) -> None:
        unknown = set(self.triggers) - set(DRIFT_TRIGGER_KINDS)
        if unknown:
            raise ValueError(f"unknown trigger kind(s): {sorted(unknown)}")
        if self.min_severity not in SEVERITY_RANK:
            raise ValueError(f"min_severity must be one of {list(SEVERITY_RANK)}")
        if self.min_drifted_features < 1:
            raise ValueError("min_drifted_features must be >= 1")
        if self.daily_limit < 0:
            raise ValueError("daily_limit must be >= 0")

    @classmethod
    def from_values(cls, values: Mapping[str, Any],
                    overrides: Mapping[str, Any] | None = None) -> RetrainRule:
        """Build from settings-like values (``cooldown_hours``, ``merge_seconds``, ...)."""
        merged = {**values, **(overrides or {})}
        return cls(
            triggers=frozenset(merged.get("triggers", DRIFT_TRIGGER_KINDS)),
            min_severity=str(merged.get("min_severity", "medium")),
            min_drifted_features=int(merged.get("min_drifted_features", 1)),
            cooldown=timedelta(hours=float(merged.get("cooldown_hours", 6.0))),
            daily_limit=int(merged.get("daily_limit", 3)),
            merge_window=timedelta(seconds=float(merged.get("merge_seconds", 60.0))),
        )


@dataclass(frozen=True)
class Trigger:
    """A fired drift event, or a manual trigger, that may ask for retraining."""

    event_id: str
    model_name: str
    model_version: str
    kind: str
    feature: str
    severity: str
    time: datetime
    offset: int = -1
    window: str = ""  # identifies the drift window, for counting drifted features
    requested_by: str = ""  # a manual trigger's author
    note: str = ""  # a manual trigger's stated reason

    @property
    def priority(self) -> int:
        """Larger is more urgent: kind first, then severity."""
        return KIND_RANK[self.kind] * 10 + SEVERITY_RANK.get(self.severity, 0)

    def describe(self) -> str:
        if self.kind == MANUAL:
            return (f"manual retrain requested by {self.requested_by or 'someone'}"
                    + (f" ({self.note})" if self.note else ""))
        return f"{self.kind} on {self.feature!r} (severity {self.severity})"


def priority_key(trigger: Trigger) -> tuple[int, int, datetime, str]:
    """manual > performance_drop > model_drift > data_drift, then severity, then age (older
    first)."""
    return (-KIND_RANK[trigger.kind], -SEVERITY_RANK.get(trigger.severity, 0), trigger.time,
            trigger.event_id)


def as_trigger(event: Any, rule: RetrainRule, offset: int = -1) -> Trigger | None:
    """The trigger a DriftEvent makes under ``rule``, or None when it asks for nothing.

    Only an alert that has just fired counts (alert hygiene fires once when k of the last m
    windows drifted), and data drift only from ``min_severity`` up.
    """
    if getattr(event, "alert", "none") != "fired" or not event.drifted:
        return None
    if event.kind not in KIND_RANK or event.kind not in rule.triggers:
        return None
    if event.kind == "data_drift" and (SEVERITY_RANK.get(event.severity, 0)
                                       < SEVERITY_RANK[rule.min_severity]):
        return None
    return Trigger(
        event_id=event.event_id, model_name=event.model_name, model_version=event.model_version,
        kind=event.kind, feature=event.feature, severity=event.severity,
        time=datetime.fromisoformat(event.window_end_time), offset=offset,
        window=f"{event.model_version}:{event.window_start_seq}:{event.window_end_seq}",
    )


def manual_trigger(record: Any, offset: int = -1) -> Trigger:
    """The trigger a :class:`schemas.governance.RetrainTrigger` makes: always a candidate."""
    return Trigger(
        event_id=record.event_id, model_name=record.model_name,
        model_version=record.model_version, kind=MANUAL, feature="", severity="none",
        time=datetime.fromisoformat(record.timestamp), offset=offset,
        requested_by=record.requested_by, note=(record.reason or "")[:500],
    )


@dataclass
class LedgerState:
    """What the ledger remembers about one model (small: one table value per model)."""

    model: str
    last_offset: int = -1  # highest drift-events offset decided; replays below it are skipped
    last_manual_offset: int = -1  # the same for retrain-triggers (a topic of its own)
    last_accepted_at: str | None = None
    last_request_id: str | None = None
    day: str = ""  # UTC day that ``requests_today`` counts
    requests_today: int = 0
    #: drift window -> drifted features seen (for ``min_drifted_features`` > 1)
    pending: dict[str, list[str]] = field(default_factory=dict)
    #: event ids of the last triggers decided: a re-keyed copy sent twice (its original
    #: redelivered after a crash) arrives at a new offset and must not be decided again
    recent: list[str] = field(default_factory=list)

    def encode(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def decode(cls, raw: bytes) -> LedgerState:
        return cls(**orjson.loads(raw))


@dataclass(frozen=True)
class Decision:
    event_id: str
    trigger: Trigger
    decision: str
    reason: str
    request_id: str
    requests_today: int
    cooldown_until: datetime | None
    #: for an accepted request: every trigger that made it (itself and those merged into it)
    merged: tuple[Trigger, ...] = ()

    @property
    def accepted(self) -> bool:
        return self.decision == "accepted"


def decision_id(app_id: str, trigger: Trigger) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{app_id}|retrain|{trigger.model_name}|{trigger.event_id}"))


class RetrainPlanner:
    """Decides, per model and batch, which trigger becomes a retrain request."""

    def __init__(self, app_id: str, rule_for: Any) -> None:
        #: ``rule_for(model_name) -> RetrainRule``
        self.app_id = app_id
        self.rule_for = rule_for

    def decide(self, triggers: Sequence[Trigger], state: LedgerState,
               now: datetime) -> tuple[list[Decision], LedgerState]:
        if now.tzinfo is None:
            raise ValueError("now must carry a time zone")
        state = replace(state, pending={k: list(v) for k, v in state.pending.items()})
        seen = set(state.recent)
        fresh = [t for t in triggers if (t.offset < 0 or t.offset > (
            state.last_manual_offset if t.kind == MANUAL else state.last_offset))
            and t.event_id not in seen]
        state.last_offset = max([state.last_offset,
                                 *(t.offset for t in triggers if t.kind != MANUAL)])
        state.last_manual_offset = max([state.last_manual_offset,
                                        *(t.offset for t in triggers if t.kind == MANUAL)])
        if not fresh:
            return [], state
        state.recent = [*state.recent, *(t.event_id for t in fresh)][-MAX_RECENT_TRIGGERS:]
        rule: RetrainRule = self.rule_for(state.model)
        today = now.astimezone(UTC).date().isoformat()
        if state.day != today:
            state.day, state.requests_today = today, 0
        decisions: list[Decision] = []
        candidates: list[Trigger] = []
        for trigger in fresh:
            if trigger.kind == "data_drift" and rule.min_drifted_features > 1:
                seen = state.pending.setdefault(trigger.window, [])
                if trigger.feature not in seen:
                    seen.append(trigger.feature)
                while len(state.pending) > MAX_PENDING_WINDOWS:
                    state.pending.pop(next(iter(state.pending)))
                if len(seen) < rule.min_drifted_features:
                    decisions.append(self._decision(
                        trigger, "below_threshold",
                        f"{len(seen)} of the {rule.min_drifted_features} drifted features a data-"
                        f"drift retrain needs so far in window {trigger.window} "
                        f"({', '.join(seen)})", None, state, None))
                    continue
            candidates.append(trigger)
        if candidates:
            decisions.extend(self._decide_candidates(candidates, rule, state, now))
        return decisions, state

    def _decide_candidates(self, candidates: Sequence[Trigger], rule: RetrainRule,
                           state: LedgerState, now: datetime) -> list[Decision]:
        ordered = sorted(candidates, key=priority_key)
        primary, rest = ordered[0], ordered[1:]
        last = datetime.fromisoformat(state.last_accepted_at) if state.last_accepted_at else None
        cooldown_until = last + rule.cooldown if last is not None else None
        if last is not None and now - last < rule.merge_window and state.last_request_id:
            reason = (f"merged into request {state.last_request_id}, accepted "
                      f"{(now - last).total_seconds():.0f}s ago (merge window "
                      f"{rule.merge_window.total_seconds():.0f}s)")
            return [self._decision(t, "merged", reason, state.last_request_id, state,
                                   cooldown_until) for t in ordered]
        if cooldown_until is not None and now < cooldown_until:
            reason = (f"cooldown: last request {state.last_request_id} accepted at "
                      f"{last.isoformat() if last else '?'}; no new request before "
                      f"{cooldown_until.isoformat()} ({_hours(rule.cooldown)} cooldown)")
            return [self._decision(t, "suppressed_cooldown", reason, None, state, cooldown_until)
                    for t in ordered]
        if state.requests_today >= rule.daily_limit:
            reason = (f"daily limit: {state.requests_today} request(s) already accepted on "
                      f"{state.day} (UTC), limit {rule.daily_limit}")
            return [self._decision(t, "suppressed_daily_limit", reason, None, state,
                                   cooldown_until) for t in ordered]
        request_id = decision_id(self.app_id, primary)
        state.last_accepted_at = now.isoformat()
        state.last_request_id = request_id
        state.requests_today += 1
        until = now + rule.cooldown
        reason = (f"{primary.describe()}"
                  + ("" if primary.kind == MANUAL else " fired")
                  + f"; request {state.requests_today} of {rule.daily_limit} today"
                  + (f"; {len(rest)} concurrent trigger(s) merged" if rest else ""))
        out = [replace(self._decision(primary, "accepted", reason, request_id, state, until),
                       merged=tuple(ordered))]
        merged_reason = (f"merged into request {request_id} ({primary.describe()}), "
                         "triggered in the same batch")
        out.extend(self._decision(t, "merged", merged_reason, request_id, state, until)
                   for t in rest)
        return out

    def _decision(self, trigger: Trigger, decision: str, reason: str, request_id: str | None,
                  state: LedgerState, cooldown_until: datetime | None) -> Decision:
        event_id = decision_id(self.app_id, trigger)
        return Decision(event_id=event_id, trigger=trigger, decision=decision, reason=reason,
                        request_id=request_id or event_id, requests_today=state.requests_today,
                        cooldown_until=cooldown_until)


def _hours(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 3600:g}h"


class RequestQueue:
    """Accepted requests waiting for the training service, most urgent first.

    Requests of one batch (across models) are submitted in this order.
    """

    def __init__(self, items: Iterable[tuple[Trigger, Any]] = ()) -> None:
        self._heap: list[tuple[tuple[int, int, datetime, str], int, Any]] = []
        self._count = 0
        for trigger, item in items:
            self.push(trigger, item)

    def push(self, trigger: Trigger, item: Any) -> None:
        heapq.heappush(self._heap, (priority_key(trigger), self._count, item))
        self._count += 1

    def pop(self) -> Any:
        return heapq.heappop(self._heap)[2]

    def __len__(self) -> int:
        return len(self._heap)

    def drain(self) -> list[Any]:
        return [self.pop() for _ in range(len(self))]


"""Records of the governed loop: retrain decisions, training jobs, promotion decisions.

They follow :mod:`schemas.events`: one ``FIELDS`` spec per record, from which validation
(:func:`schemas.events.decode`) and the exported JSON Schema derive. Every decision carries
its reason, so the history in PostgreSQL explains itself.
"""

from __future__ import annotations

from schemas.events import COMMON_FIELDS, SEVERITIES, Event
from schemas.spec import FieldSpec

TRIGGER_KINDS = ("data_drift", "model_drift", "performance_drop", "manual")
#: kinds of :class:`RetrainTrigger` (one so far; the field leaves room for, say, schedules)
MANUAL_TRIGGER_KINDS = ("manual",)
#: what the retrain agent decided about a trigger
RETRAIN_DECISIONS = ("accepted", "merged", "suppressed_cooldown", "suppressed_daily_limit",
                     "below_threshold")
#: "waiting": accepted, in driftline's retrain queue until the trainer has capacity;
#: "queued": submitted, in the training service's own queue
JOB_STATUSES = ("waiting", "submitted", "queued", "running", "succeeded", "failed", "cancelled")
TERMINAL_JOB_STATUSES = frozenset({"succeeded", "failed", "cancelled"})
#: "failed": the evaluation itself failed (not an outage: those are waited out); the champion
#: is unchanged and an alert says why
PROMOTION_DECISIONS = ("promoted", "rejected", "rolled_back", "skipped", "failed")


class RetrainTrigger(Event):
    """A request for a retrain from a person, not from drift (``retrain-triggers``).

    The retrain agent decides it like a fired drift event — same merge window, cooldown and
    daily limit, in the same ledger — so the API never decides itself.
    """

    FIELDS = (
        *COMMON_FIELDS,
        FieldSpec("kind", "enum", choices=MANUAL_TRIGGER_KINDS),
        FieldSpec("requested_by", "text", description="Who asked (the API key's name)."),
        FieldSpec("reason", "long_text", required=False),
    )
    DESCRIPTION = ("Asks for a retrain, decided under the same cooldown and daily limit as "
                   "drift; the decision's event_id is uuid5 of (app id, model, this event_id).")


class RetrainRequest(Event):
    """One retrain decision about one trigger (a fired drift event or a manual trigger)."""

    FIELDS = (
        *COMMON_FIELDS,
        FieldSpec("request_id", "uuid",
                  description="The request this decision belongs to: its own event_id when "
                              "accepted, the accepted request's when merged."),
        FieldSpec("decision", "enum", choices=RETRAIN_DECISIONS),
        FieldSpec("reason", "long_text"),
        FieldSpec("trigger_kind", "enum", choices=TRIGGER_KINDS),
        FieldSpec("severity", "enum", choices=SEVERITIES),
        FieldSpec("priority", "integer", description="Larger is more urgent."),
        FieldSpec("registered_model", "name", description="MLflow registered model."),
        FieldSpec("triggers", "object",
                  description="{event_ids: [...], features: [...], kinds: [...]} that led here."),
        FieldSpec("requests_today", "integer", required=False, default=0),
        FieldSpec("cooldown_until", "timestamp", required=False),
    )
    DESCRIPTION = "A retrain decision: accepted, merged, or suppressed (cooldown, daily limit)."


class TrainingJob(Event):
    """A state change of one training job."""

    FIELDS = (
        *COMMON_FIELDS,
        FieldSpec("request_id", "uuid", description="The accepted retrain request."),
        FieldSpec("job_id", "text", description="The training service's id (may be empty "
                                                "when submission itself failed)."),
        FieldSpec("status", "enum", choices=JOB_STATUSES),
        FieldSpec("progress", "number", description="0 to 1."),
        FieldSpec("message", "long_text"),
        FieldSpec("registered_model", "name"),
        FieldSpec("candidate_version", "name", required=False),
        FieldSpec("run_id", "text", required=False),
        FieldSpec("metrics", "object", required=False),
    )
    DESCRIPTION = "A training job's state: submitted, running (with progress), then terminal."


class PromotionEvent(Event):
    """A promotion decision with the result of every criterion."""

    FIELDS = (
        *COMMON_FIELDS,
        FieldSpec("decision", "enum", choices=PROMOTION_DECISIONS),
        FieldSpec("registered_model", "name"),
        FieldSpec("reason", "long_text"),
        FieldSpec("criteria", "object", description="Criterion -> {passed, value, ...}."),
        FieldSpec("candidate_version", "name", required=False),
        FieldSpec("champion_version", "name", required=False,
                  description="The champion before the decision."),
        FieldSpec("request_id", "uuid", required=False),
        FieldSpec("job_id", "text", required=False),
    )
    DESCRIPTION = "Promote or reject a candidate model version (or a rollback), with evidence."


GOVERNANCE_EVENTS: dict[str, type[Event]] = {
    "RetrainTrigger": RetrainTrigger,
    "RetrainRequest": RetrainRequest,
    "TrainingJob": TrainingJob,
    "PromotionEvent": PromotionEvent,
}

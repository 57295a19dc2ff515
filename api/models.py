"""Request and response bodies of the API (pydantic), separate from the ORM rows."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    computed_field,
    field_validator,
    model_validator,
)

from api.wire import body_model
from schemas.events import DRIFT_KINDS, SEVERITIES, DriftEvent
from schemas.governance import (
    JOB_STATUSES,
    PROMOTION_DECISIONS,
    RETRAIN_DECISIONS,
    TRIGGER_KINDS,
    PromotionEvent,
    RetrainRequest,
    TrainingJob,
)
from schemas.redteam import RED_TEAM_SEVERITIES, RedTeamResult
from schemas.spec import NAME_PATTERN

KEY_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
DriftKind = Literal[DRIFT_KINDS]  # type: ignore[valid-type]
Severity = Literal[SEVERITIES]  # type: ignore[valid-type]
RedTeamSeverity = Literal[RED_TEAM_SEVERITIES]  # type: ignore[valid-type]
Role = Literal["viewer", "operator", "admin"]


class _Row(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# --- health -----------------------------------------------------------------------------

class CheckOut(BaseModel):
    ok: bool
    critical: bool = Field(description="A failed critical check makes the API unavailable (503); "
                           "others only degrade it.")
    detail: str | None = Field(default=None, description="Why it failed (or what answered); only "
                               "for an admin's key, and never with credentials.")
    latency_ms: float


class ReadinessOut(BaseModel):
    status: Literal["ok", "degraded", "unavailable"]
    checks: dict[str, CheckOut]


class LivenessOut(BaseModel):
    status: Literal["ok"] = "ok"


# --- drift ------------------------------------------------------------------------------

class TestOut(BaseModel):
    statistic: float | None
    p_value: float | None
    effect: float | None = None
    drifted: bool | None = Field(default=None, description="This test's own verdict.")


DriftResultOut = body_model(
    DriftEvent, "DriftResultOut", base=_Row,
    only=("event_id", "timestamp", "model_name", "model_version", "kind", "feature", "test",
          "statistic", "p_value", "p_value_adjusted", "effect", "severity", "drifted",
          "window_start_seq", "window_end_seq", "window_start_time", "window_end_time",
          "reference_size", "current_size", "missing_share", "tests", "sample_rate"),
    types={"tests": dict[str, TestOut]},
    descriptions={"tests": "Every test the registry ran on the window: name -> result."})


class LatestDriftOut(BaseModel):
    model_name: str
    as_of: datetime
    drifted_features: int
    results: list[DriftResultOut] = Field(description="The latest result per (kind, feature).")


class MissingShareOut(BaseModel):
    reference: float
    current: float


class FeatureReportOut(BaseModel):
    name: str
    kind: Literal["numeric", "categorical"]
    status: Literal["tested", "insufficient_data", "absent"] = "tested"
    drifted: bool
    severity: Severity
    p_value_adjusted: float | None
    missing_share: MissingShareOut
    tests: dict[str, TestOut]


class DetectReportOut(BaseModel):
    """The JSON ``driftline detect --format json`` prints."""

    dataset_drift: bool
    drifted_share: float
    alpha: float
    features: list[FeatureReportOut]
    new_features: list[str] = Field(default_factory=list,
                                    description="Columns only the current file has.")


# --- performance and analytics -----------------------------------------------------------

class PerformanceTrendPoint(BaseModel):
    """Realized (on joined labels) and estimated (CBPE, before labels) side by side."""

    bucket_start: datetime
    model_version: str
    windows: int = Field(description="Windows measured on joined labels.")
    samples: int
    mean: float | None
    min: float | None
    max: float | None
    estimated_windows: int = Field(default=0, description="Windows estimated without labels.")
    estimated_samples: int = 0
    estimated_mean: float | None = None
    estimated_min: float | None = None
    estimated_max: float | None = None
    estimated_lower: float | None = Field(default=None,
                                          description="Lowest lower bound of the estimates.")
    estimated_upper: float | None = None


class PerformanceComparisonRow(BaseModel):
    model_name: str
    model_version: str
    windows: int
    samples: int
    mean: float | None
    weighted_mean: float | None = Field(description="Mean weighted by each window's sample size.")
    min: float | None
    max: float | None
    latest: float | None
    first_at: datetime
    latest_at: datetime


class DriftSummaryRow(BaseModel):
    model_name: str
    feature: str
    severity: str
    results: int
    drifted: int


class DriftSummaryOut(BaseModel):
    total_results: int
    drifted_results: int
    rows: list[DriftSummaryRow]


class DriftTrendPoint(BaseModel):
    bucket_start: datetime
    model_name: str
    feature: str
    severity: str
    results: int
    drifted: int


# --- red team ---------------------------------------------------------------------------

class _RedTeamResultChecks(BaseModel):
    """What a request adds to the record's own rules: an optional id and time (generated when
    absent), and a retry that cannot store a second row."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("timestamp", check_fields=False)
    @classmethod
    def _zoned(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.utcoffset() is None:
            raise ValueError("timestamp needs a time zone")
        if value is not None:
            try:  # 0001-01-01T00:00:00+14:00 is a valid ISO-8601 time no store can hold
                value.astimezone(UTC)
            except OverflowError:
                raise ValueError("timestamp out of range") from None
        return value

    @model_validator(mode="after")
    def _idempotent(self) -> Any:
        if getattr(self, "event_id", None) is not None and getattr(self, "timestamp", None) is None:
            raise ValueError("an event_id needs its timestamp, or a retry would store a second row")
        return self


#: One security-test result; the same fields as the ``red-team-results`` topic.
RedTeamResultIn = body_model(
    RedTeamResult, "RedTeamResultIn", request=True, base=_RedTeamResultChecks,
    optional={"event_id": None, "timestamp": None, "schema_version": 1},
    descriptions={"event_id": "Generated when absent; send one (with its timestamp) to make "
                              "retries idempotent.",
                  "timestamp": "When the test ran; now if absent. Required with event_id: a "
                               "row is (event_id, timestamp)."})


class RedTeamBatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    results: list[RedTeamResultIn] = Field(min_length=1, max_length=1000)


class RedTeamIngestOut(BaseModel):
    received: int
    inserted: int = Field(description="Fewer than received when event_ids were seen before.")
    event_ids: list[uuid.UUID]


RedTeamResultOut = body_model(
    RedTeamResult, "RedTeamResultOut", base=_Row, exclude=("schema_version",),
    extra={"source": (str, Field(description="stream or api: how the result arrived."))})


class SuccessRateRow(BaseModel):
    bucket_start: datetime | None = Field(description="Absent when no bucket was asked for.")
    model_name: str
    model_version: str
    attack_type: str
    attempts: int
    successes: int
    success_rate: float


class TopAttackRow(BaseModel):
    attack_type: str
    attack_name: str | None
    attempts: int
    successes: int
    success_rate: float
    models: int = Field(description="Distinct models the attack succeeded against.")


class RegressionRow(BaseModel):
    attack_type: str
    attack_name: str | None
    from_attempts: int
    from_successes: int
    to_attempts: int
    to_successes: int
    to_success_rate: float


class RegressionsOut(BaseModel):
    model_name: str
    from_version: str
    to_version: str
    regressions: list[RegressionRow] = Field(
        description="Attacks that never succeeded on from_version and succeed on to_version.")


# --- audit and keys ---------------------------------------------------------------------

class AuditEntryOut(_Row):
    id: uuid.UUID
    timestamp: datetime
    request_id: str
    actor: str
    role: str | None
    method: str
    path: str
    action: str
    status_code: int
    outcome: str
    client: str | None
    duration_ms: float
    details: dict[str, Any] | None


class KeyOut(_Row):
    name: str
    role: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None


class KeyCreateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=KEY_NAME_PATTERN)
    role: Role


class KeyCreatedOut(KeyOut):
    token: str = Field(description="Shown once; only its SHA-256 is stored.")


# --- the governed loop: retrain decisions, training jobs, promotions ----------------------

RetrainDecision = Literal[RETRAIN_DECISIONS]  # type: ignore[valid-type]
TriggerKind = Literal[TRIGGER_KINDS]  # type: ignore[valid-type]
JobStatus = Literal[JOB_STATUSES]  # type: ignore[valid-type]
PromotionDecision = Literal[PROMOTION_DECISIONS]  # type: ignore[valid-type]
#: MLflow model versions are positive integers
VERSION_PATTERN = r"^[1-9][0-9]{0,9}$"


#: One decision of the retrain agent about one trigger, with its reason.
RetrainRequestOut = body_model(
    RetrainRequest, "RetrainRequestOut", base=_Row, exclude=("schema_version",),
    descriptions={"event_id": "The decision's id.",
                  "priority": "Larger is more urgent; manual triggers rank highest."})


class RetrainTriggerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model_name: str = Field(pattern=NAME_PATTERN, max_length=128)
    model_version: str | None = Field(
        default=None, pattern=NAME_PATTERN, max_length=128,
        description="The version serving now; if absent, the latest one with drift results "
                    "(\"unknown\" when there are none).")
    reason: str | None = Field(default=None, max_length=2000)


class RetrainTriggerOut(BaseModel):
    trigger_id: uuid.UUID = Field(description="event_id of the trigger on retrain-triggers.")
    decision_id: uuid.UUID = Field(description="The id the retrain agent's decision will have: "
                                   "GET /retrain/requests/{decision_id} once it is made.")
    model_name: str
    model_version: str
    requested_by: str
    status: Literal["queued"] = "queued"


RetrainJobOut = body_model(
    TrainingJob, "RetrainJobOut", base=_Row,
    only=("request_id", "job_id", "model_name", "model_version", "registered_model", "status",
          "progress", "message", "candidate_version", "run_id", "metrics"),
    extra={"created_at": (datetime, Field(description="When the job was first recorded.")),
           "updated_at": (datetime, Field(description="Its latest state change."))})


class JobCancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=2000)


class _PromotionFacts(_Row):
    """What a stored promotion decision says at a glance, computed from its criteria."""

    @computed_field(description="Each criterion's result (criteria without one are left out).")
    def passed(self) -> dict[str, bool]:
        criteria: dict[str, Any] = getattr(self, "criteria", {})
        return {name: bool(result["passed"]) for name, result in criteria.items()
                if isinstance(result, dict) and isinstance(result.get("passed"), bool)}

    @computed_field(description="Who decided, for manual promotions and rollbacks.")
    def actor(self) -> str | None:
        criteria: dict[str, Any] = getattr(self, "criteria", {})
        manual = criteria.get("manual")
        by = manual.get("by") if isinstance(manual, dict) else None
        return by if isinstance(by, str) else None


PromotionOut = body_model(
    PromotionEvent, "PromotionOut", base=_PromotionFacts, exclude=("schema_version",),
    descriptions={"criteria": "Criterion -> {passed, value, ...}: the evidence; `manual` names "
                              "who decided by hand."})


class PromoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str = Field(pattern=VERSION_PATTERN, description="The registered model's version.")
    reason: str = Field(default="manual promotion", min_length=1, max_length=2000)


class RollbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="manual rollback", min_length=1, max_length=2000)


class PromotionActionOut(PromotionOut):  # type: ignore[misc,valid-type]
    announced: bool = Field(description="Published to promotion-events (and so mailed); false "
                            "when Kafka did not acknowledge — the decision is stored regardless.")

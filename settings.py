"""The one place driftline reads its configuration from.

Every value comes from an environment variable with ``__`` between group and field
(``KAFKA__BROKER``, ``DATABASE__URL``, ``DRIFT__ALPHA``); a ``.env`` file in the working
directory is read too. Only the edges (CLI, worker, API) call :func:`get_settings`; the
core receives plain values.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from schemas.spec import Limits

DEFAULT_STATE_DIR = Path(".driftline")


class TopicNames(BaseModel):
    """Topic names; every one can be renamed, and ``prefix`` isolates a deployment (or a test)."""

    prefix: str = ""
    features: str = "features"
    predictions: str = "predictions"
    labels: str = "labels"
    reference_profiles: str = "reference-profiles"
    red_team_results: str = "red-team-results"
    retrain_triggers: str = "retrain-triggers"
    drift_events: str = "drift-events"
    #: a sharded model's batches of validated events, from its shards to its reducer
    feature_partials: str = "feature-partials"
    retrain_requests: str = "retrain-requests"
    training_jobs: str = "training-jobs"
    promotion_events: str = "promotion-events"
    alerts: str = "alerts"
    dead_letters: str = "dead-letters"
    performance_metrics: str = "performance-metrics"
    labelled_predictions: str = "labelled-predictions"

    def name(self, field: str) -> str:
        return f"{self.prefix}{getattr(self, field)}"

    def all_names(self) -> list[str]:
        return [self.name(field) for field in type(self).model_fields if field != "prefix"]


class KafkaSettings(BaseModel):
    broker: str = "kafka://127.0.0.1:19092"
    #: how soon the group notices a dead worker and hands its partitions to the others
    session_timeout_seconds: float = Field(default=10.0, ge=1)
    heartbeat_seconds: float = Field(default=3.0, ge=0.1)
    partitions: int = Field(default=4, ge=1, le=1024)
    replication_factor: int = Field(default=1, ge=1)
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: Path | None = None
    #: Bytes fetched per partition per request. Faust's 1 MiB default makes a worker wait on
    #: fetch round trips (bench/stream_bench.py: a faust no-op agent went 6.3k → 15.3k
    #: events/s at 4 MiB); the buffer is bounded by this times the assigned partitions.
    max_fetch_bytes_per_partition: int = Field(default=4 * 1024 * 1024, ge=64 * 1024,
                                               le=64 * 1024 * 1024)
    #: Events each agent buffers (faust's ``stream_buffer_maxsize``, 4,096 by default). A
    #: partition whose buffer is ≥ 80 % full stops being fetched, and faust fetches it again
    #: only once an agent finds the buffer empty: with batches of 2,000 in 4,096 that is every
    #: other batch, and the agent then waits for a fetch from the broker (a third of the
    #: worker's time in bench/stream_bench.py). At least four feature batches.
    stream_buffer_size: int = Field(default=16_384, ge=256, le=262_144)
    #: agents check each partition's offsets are consecutive and seek back over holes
    #: (streams/gaps.py); a commit marker of a transactional producer is such a hole, and
    #: costs a few seconds per transaction and partition: turn off for such producers
    offset_guard: bool = True
    topics: TopicNames = TopicNames()

    @field_validator("broker")
    @classmethod
    def _broker_has_host(cls, value: str) -> str:
        hosts = value.removeprefix("kafka://")
        if not hosts or any(":" not in h for h in hosts.split(";") for h in h.split(",")):
            raise ValueError("KAFKA__BROKER must look like kafka://host:port[,host:port]")
        return value

    @property
    def bootstrap_servers(self) -> str:
        """The broker list as aiokafka wants it (no scheme, comma separated)."""
        return self.broker.removeprefix("kafka://").replace(";", ",")


class DatabaseSettings(BaseModel):
    #: SQLAlchemy URL. Unset means an embedded SQLite file under the state directory.
    url: SecretStr | None = None
    pool_size: int = Field(default=5, ge=1, le=100)
    #: Bounded retries for transient database faults before an error surfaces.
    retries: int = Field(default=5, ge=0, le=50)
    #: libpq ``sslmode``, passed through to every PostgreSQL connection (worker, API, migrations).
    sslmode: Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] | None = None
    #: Monthly partitions kept ready ahead of today (created at start-up and daily).
    partitions_ahead_months: int = Field(default=3, ge=1, le=24)

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            raw = value.get_secret_value()
            if not raw.startswith(("postgresql", "sqlite")):
                raise ValueError("DATABASE__URL must be a postgresql+psycopg:// or sqlite:// URL")
        return value


class LimitSettings(BaseModel):
    """Bounds on what an event may carry; anything larger is a dead letter, not a crash."""

    max_payload_bytes: int = Field(default=256 * 1024, ge=1024)
    max_features: int = Field(default=500, ge=1)
    max_string_length: int = Field(default=256, ge=8)
    max_name_length: int = Field(default=128, ge=8)
    max_object_keys: int = Field(default=1000, ge=1)
    #: reference profiles carry quantile sketches; they stay under Kafka's 1 MB default
    max_profile_bytes: int = Field(default=1_000_000, ge=1024)

    def for_events(self, *, profile: bool = False) -> Limits:
        """The bounds the event validator applies (profiles get their larger payload bound)."""
        return Limits(
            max_payload_bytes=self.max_profile_bytes if profile else self.max_payload_bytes,
            max_features=self.max_features,
            max_string_length=self.max_string_length,
            max_name_length=self.max_name_length,
            max_object_keys=self.max_object_keys,
        )


DETECTOR_NAMES = ("adwin", "page_hinkley")


class ModelOverrides(BaseModel):
    """Per-model settings; unset fields fall back to the DRIFT__ defaults."""

    model_config = ConfigDict(extra="forbid")

    reference_size: int | None = Field(default=None, ge=20)
    window_mode: Literal["count", "time"] | None = None
    window_size: int | None = Field(default=None, ge=20)
    window_seconds: float | None = Field(default=None, gt=0)
    allowed_lateness_seconds: float | None = Field(default=None, ge=0)
    detectors: list[Literal["adwin", "page_hinkley"]] | None = None
    alert_k: int | None = Field(default=None, ge=1)
    alert_m: int | None = Field(default=None, ge=1)
    #: spread one hot model over this many partitions (and workers); see README, "Shards"
    shards: int | None = Field(default=None, ge=1, le=1024)
    #: monitor this share of the model's events, chosen by a hash of ``event_id``
    sample_rate: float | None = Field(default=None, gt=0.0, le=1.0)


class DriftSettings(BaseModel):
    alpha: float = Field(default=0.05, gt=0.0, lt=1.0)
    reference_size: int = Field(default=1000, ge=20)
    window_mode: Literal["count", "time"] = "count"
    window_size: int = Field(default=1000, ge=20)
    window_seconds: float = Field(default=300.0, gt=0)
    allowed_lateness_seconds: float = Field(default=60.0, ge=0)
    #: a window with fewer events is counted but not tested (time windows can be thin)
    min_window_events: int = Field(default=30, ge=1)
    #: Effect-size gate: a feature drifts only if PSI or the secondary distance reaches this.
    min_psi: float = Field(default=0.1, ge=0.0)
    min_distance: float = Field(default=0.1, ge=0.0)
    #: a column drifts when its share of missing values moves this much (and significantly)
    min_missing_delta: float = Field(default=0.05, ge=0.0, le=1.0)
    psi_bins: int = Field(default=10, ge=2, le=100)
    #: alert hygiene: an alert fires when k of the last m windows drifted
    alert_k: int = Field(default=2, ge=1)
    alert_m: int = Field(default=3, ge=1)
    detectors: list[Literal["adwin", "page_hinkley"]] = Field(
        default_factory=lambda: list(DETECTOR_NAMES))
    #: each online detector is calibrated per (model, feature) on the reference so that a
    #: still feature raises at most this many false alarms per 100,000 events
    detector_false_alarms_per_100k: float = Field(default=1.0, gt=0.0, le=1000.0)
    #: a model version with no events for this long (event time) has its state dropped
    version_ttl_hours: float = Field(default=24.0, gt=0)
    #: per-model overrides, e.g. DRIFT__MODELS='{"fraud": {"window_size": 5000}}'
    models: dict[str, ModelOverrides] = Field(default_factory=dict)
    #: partitions (and so workers) a model's feature events are spread over; usually set per
    #: model (DRIFT__MODELS='{"fraud": {"shards": 4}}'), at most KAFKA__PARTITIONS
    shards: int = Field(default=1, ge=1, le=1024)
    #: share of a model's feature events monitored (deterministic, by a hash of event_id)
    sample_rate: float = Field(default=1.0, gt=0.0, le=1.0)
    #: Upper bound of events buffered per batch before table state is written (predictions,
    #: labels, performance).
    batch_size: int = Field(default=500, ge=1)
    #: The same for feature events: every batch writes each of its models' head and detector
    #: state (≈ 18 KB for 20 features), so larger batches write less per event (at 2,000:
    #: 140 changelog bytes per event instead of 314, and ≈ 15 % less CPU; docs/benchmarks.md).
    #: At most a quarter of ``KAFKA__STREAM_BUFFER_SIZE``, the buffer per agent.
    feature_batch_size: int = Field(default=2000, ge=1, le=65_536)
    batch_seconds: float = Field(default=1.0, gt=0.0)

    @model_validator(mode="after")
    def _k_within_m(self) -> DriftSettings:
        if self.alert_k > self.alert_m:
            raise ValueError("DRIFT__ALERT_K must not exceed DRIFT__ALERT_M")
        # each model's effective values too: a bad override stops the worker at start, not
        # the agent at the model's first event
        for model, overrides in self.models.items():
            k = overrides.alert_k if overrides.alert_k is not None else self.alert_k
            m = overrides.alert_m if overrides.alert_m is not None else self.alert_m
            if k > m:
                raise ValueError(f"DRIFT__MODELS[{model!r}]: alert_k ({k}) must not exceed "
                                 f"alert_m ({m})")
        return self

    def for_model(self, model: str) -> dict[str, Any]:
        """The effective window and alert settings of ``model``."""
        base = {name: getattr(self, name) for name in ModelOverrides.model_fields}
        overrides = self.models.get(model)
        if overrides is not None:
            base.update(overrides.model_dump(exclude_none=True))
        if base["alert_k"] > base["alert_m"]:
            raise ValueError(f"model {model}: alert_k must not exceed alert_m")
        return base


class PerformanceSettings(BaseModel):
    #: labelled predictions per metrics window (the first window is the reference)
    window_size: int = Field(default=500, ge=20)
    #: a metric alerts when it is worse than the reference by more than ``band_sigmas``
    #: standard errors at the window's size (from the reference) *and* by at least
    #: ``min_drop``: absolute for accuracy, precision, recall, F1, ROC AUC; a fraction of
    #: the reference for MAE and RMSE. The same rule judges realized and estimated metrics.
    min_drop: float = Field(default=0.01, ge=0, lt=1)
    band_sigmas: float = Field(default=3.0, gt=0, le=10)
    #: estimate classifiers' metrics per window of predictions, before labels join (CBPE),
    #: calibrated on the first ``calibration_size`` labelled predictions of each version
    estimate: bool = True
    calibration_size: int = Field(default=1000, ge=50, le=1_000_000)
    join_ttl_days: float = Field(default=7.0, gt=0)
    #: how long a label waits for a prediction that has not arrived yet
    label_grace_hours: float = Field(default=1.0, gt=0)


class ApiSettings(BaseModel):
    """The query API (``driftline api``)."""

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    default_page_size: int = Field(default=100, ge=1)
    max_page_size: int = Field(default=1000, ge=1, le=100_000)
    #: Bodies larger than this are refused with 413 (JSON requests) ...
    max_request_bytes: int = Field(default=1024 * 1024, ge=1024)
    #: ... and this for multipart uploads (``POST /drift/detect``).
    max_upload_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)
    #: Token bucket per API key: sustained requests per minute and the burst allowed.
    rate_limit_per_minute: float = Field(default=600.0, gt=0.0)
    rate_limit_burst: int = Field(default=60, ge=1)
    #: Token bucket per client address for requests without a valid key (anonymous calls,
    #: health checks, failed logins), checked before any key is looked up.
    client_rate_limit_per_minute: float = Field(default=120.0, gt=0.0)
    client_rate_limit_burst: int = Field(default=30, ge=1)
    #: Buckets kept (least recently seen forgotten first): bounds the limiter's memory.
    rate_limit_max_buckets: int = Field(default=10_000, ge=100, le=10_000_000)
    #: Origins allowed to call the API from a browser (CORS); none by default.
    cors_origins: Annotated[list[str], NoDecode] = []
    #: ``POST /drift/detect`` uploads processed at once; more get 503 with Retry-After.
    max_concurrent_uploads: int = Field(default=2, ge=1, le=64)
    #: Rows per chunk when streaming an export.
    export_chunk_rows: int = Field(default=5000, ge=1, le=1_000_000)
    #: Per-check timeout of ``/health/ready``.
    health_timeout_seconds: float = Field(default=3.0, gt=0.0, le=60.0)
    #: How long a publish to Kafka (manual triggers, job states, decisions) may take: 503 after.
    publish_timeout_seconds: float = Field(default=10.0, gt=0.0, le=120.0)
    #: The model pages' sessions (``/ui``): how long one lasts, and the key that signs its
    #: cookie (unset: a random key per API process, so sessions end when it restarts).
    session_hours: float = Field(default=12.0, gt=0.0, le=24.0 * 30)
    session_secret: SecretStr | None = None

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _origins(cls, value: object) -> object:
        if isinstance(value, str) and value.strip().startswith("["):
            return json.loads(value)
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("cors_origins")
    @classmethod
    def _origins_are_origins(cls, value: list[str]) -> list[str]:
        for origin in value:
            if origin != "*" and not re.fullmatch(r"https?://[^/\s]+", origin):
                raise ValueError(f"API__CORS_ORIGINS: {origin!r} is not an origin "
                                 "(scheme://host[:port], no path) or *")
        return value

    @model_validator(mode="after")
    def _page_sizes(self) -> ApiSettings:
        if self.default_page_size > self.max_page_size:
            raise ValueError("API__DEFAULT_PAGE_SIZE must not exceed API__MAX_PAGE_SIZE")
        secret = self.session_secret
        if secret is not None and len(secret.get_secret_value()) < 32:
            raise ValueError("API__SESSION_SECRET must be at least 32 characters")
        return self


class SecuritySettings(BaseModel):
    """What is pseudonymised before it is stored: values of these fields (at any depth, by
    name, case-insensitively) become a keyed HMAC-SHA256, so equal values still join."""

    #: comma-separated (``email,user_id``) or a JSON list
    pii_fields: Annotated[list[str], NoDecode] = []
    hmac_key: SecretStr | None = None

    @field_validator("pii_fields", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str) and value.strip().startswith("["):
            return json.loads(value)
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @model_validator(mode="after")
    def _key_when_fields(self) -> SecuritySettings:
        if self.pii_fields and self.hmac_key is None:
            raise ValueError("SECURITY__PII_FIELDS needs SECURITY__HMAC_KEY to hash them with")
        if self.hmac_key is not None and len(self.hmac_key.get_secret_value()) < 16:
            raise ValueError("SECURITY__HMAC_KEY must be at least 16 characters")
        return self


class SmtpSettings(BaseModel):
    """Where alert e-mail goes. ``security``: ``none`` (plain), ``starttls`` or ``tls``."""

    host: str = "127.0.0.1"
    port: int = Field(default=11025, ge=1, le=65535)
    username: str | None = None
    password: SecretStr | None = None
    security: Literal["none", "starttls", "tls"] = "none"
    sender: str = "driftline@localhost"
    #: comma-separated addresses
    recipients: str = "ml-team@localhost"
    #: seconds for one SMTP conversation (connect, send)
    timeout: float = Field(default=10.0, gt=0)
    #: attempts per message, and the time all attempts together may take, before dead-lettering
    attempts: int = Field(default=4, ge=1, le=20)
    max_retry_seconds: float = Field(default=30.0, gt=0)
    backoff_base: float = Field(default=0.5, ge=0)
    #: the same (model, kind, dedup key) is mailed at most once in this many minutes
    dedup_minutes: float = Field(default=60.0, ge=0)
    #: at most this many mails per (model, kind) per hour
    rate_limit_per_hour: int = Field(default=20, ge=1)

    @property
    def recipient_list(self) -> list[str]:
        return [r.strip() for r in self.recipients.split(",") if r.strip()]


class MlflowSettings(BaseModel):
    tracking_uri: str = "http://127.0.0.1:15000"
    #: registered model name = prefix + driftline model name
    registered_model_prefix: str = ""
    experiment_prefix: str = "driftline-"

    def registered_name(self, model_name: str) -> str:
        return f"{self.registered_model_prefix}{model_name}"


class TrainerSettings(BaseModel):
    """The training service: the client's URL, retries and breaker; the reference server's knobs."""

    url: str = "http://127.0.0.1:18080"
    #: seconds per HTTP request
    timeout: float = Field(default=10.0, gt=0)
    #: retries after the first attempt on connect errors, 5xx and 429
    retries: int = Field(default=4, ge=0, le=20)
    backoff_base: float = Field(default=0.5, ge=0)
    backoff_max: float = Field(default=10.0, ge=0)
    #: consecutive failures that open the circuit, and how long it stays open
    breaker_failures: int = Field(default=5, ge=1)
    breaker_reset_seconds: float = Field(default=30.0, gt=0)
    #: how often the worker polls in-flight jobs, and when it gives up on one
    poll_seconds: float = Field(default=2.0, gt=0)
    job_timeout_seconds: float = Field(default=3600.0, gt=0)
    #: consecutive failed polls after which a job is marked failed
    max_poll_failures: int = Field(default=30, ge=1)
    # -- the reference training service (``driftline trainer``) --
    host: str = "127.0.0.1"
    port: int = Field(default=18080, ge=1, le=65535)
    #: labelled production rows used for training: the last ``window_hours``, at most ``max_rows``
    window_hours: float = Field(default=24.0 * 7, gt=0)
    max_rows: int = Field(default=200_000, ge=10)
    min_rows: int = Field(default=50, ge=2)
    #: share of rows held out of training (by a hash of their event id) for evaluation
    holdout_share: float = Field(default=0.3, gt=0, lt=1)
    #: seconds the reference trainer pauses between steps (demos show progress with it)
    step_delay: float = Field(default=0.0, ge=0)
    concurrency: int = Field(default=1, ge=1, le=8)


class RetrainOverrides(BaseModel):
    """Per-model retrain rules; unset fields fall back to the RETRAIN__ defaults."""

    model_config = ConfigDict(extra="forbid")

    cooldown_hours: float | None = Field(default=None, ge=0)
    daily_limit: int | None = Field(default=None, ge=0)
    min_drifted_features: int | None = Field(default=None, ge=1)
    min_severity: Literal["low", "medium", "high"] | None = None
    triggers: list[Literal["data_drift", "model_drift", "performance_drop"]] | None = None
    merge_seconds: float | None = Field(default=None, ge=0)


class RetrainSettings(BaseModel):
    """When drift asks for retraining. ``overrides`` holds per-model values of the same fields."""

    cooldown_hours: float = Field(default=6.0, ge=0)
    daily_limit: int = Field(default=3, ge=0)
    min_drifted_features: int = Field(default=1, ge=1)
    min_severity: Literal["low", "medium", "high"] = "medium"
    #: ``estimated_performance_drop`` (a drop estimated before labels join) may be added
    triggers: list[Literal["data_drift", "model_drift", "performance_drop",
                           "estimated_performance_drop"]] = [
        "data_drift", "model_drift", "performance_drop"]
    #: triggers within this many seconds of an accepted request merge into it
    merge_seconds: float = Field(default=60.0, ge=0)
    batch_size: int = Field(default=200, ge=1)
    batch_seconds: float = Field(default=1.0, gt=0)
    #: per-model rule overrides, e.g. RETRAIN__OVERRIDES='{"fraud": {"daily_limit": 1}}'
    overrides: dict[str, RetrainOverrides] = {}
    #: training jobs running at once: in all, and per model; accepted requests beyond wait
    #: in the durable retrain queue (served by priority)
    max_concurrent_jobs: int = Field(default=2, ge=1, le=100)
    max_concurrent_jobs_per_model: int = Field(default=1, ge=1, le=100)

    def override_values(self, model: str) -> dict[str, Any]:
        """``model``'s overrides as plain values (empty when it has none)."""
        found = self.overrides.get(model)
        return found.model_dump(exclude_none=True) if found is not None else {}


class PromotionSettings(BaseModel):
    alpha: float = Field(default=0.05, gt=0, lt=1)
    #: the candidate must beat the champion's primary metric by at least this much
    min_improvement: float = Field(default=0.01, ge=0)
    bootstrap_samples: int = Field(default=1000, ge=100)
    seed: int = 0
    #: held-out rows of the last ``window_hours`` evaluate candidate and champion
    window_hours: float = Field(default=24.0 * 7, gt=0)
    min_holdout: int = Field(default=30, ge=5)
    max_rows: int = Field(default=50_000, ge=10)
    #: the candidate's mean top-class probability may fall at most this much below the champion's
    max_confidence_drop: float = Field(default=0.1, ge=0)
    #: log loss (RMSE) may be worse by less than this share of the champion's before the
    #: ``no_significant_regression`` criterion fails (the CI's lower bound is compared)
    max_loss_regression: float = Field(default=0.1, ge=0)
    #: production window for the pre-promotion drift check of the candidate's training data
    drift_check_hours: float = Field(default=24.0, gt=0)


class TracingSettings(BaseModel):
    """OpenTelemetry traces: ``driftline replay`` starts one per line, every agent continues it
    from the Kafka headers (W3C ``traceparent``), HTTP calls to the trainer and MLflow carry it."""

    enabled: bool = False
    #: OTLP/HTTP (protobuf) traces URL; unset: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, or
    #: OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces, or http://localhost:4318/v1/traces
    endpoint: str | None = None
    service_name: str = "driftline"
    #: share of new traces recorded; agents follow the sampling decision of the trace they continue
    sample_ratio: float = Field(default=1.0, ge=0.0, le=1.0)
    #: ``otlp`` in production, ``console`` to print spans while debugging
    exporter: Literal["otlp", "console"] = "otlp"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_nested_delimiter="__",
        env_file=".env",
        extra="ignore",
    )

    app_id: str = "driftline"
    state_dir: Path = DEFAULT_STATE_DIR
    log_level: Literal["debug", "info", "warn", "error"] = "info"
    #: ``json``: one JSON object per log record (with trace_id/span_id while a span is active)
    log_format: Literal["text", "json"] = "text"
    web_enabled: bool = True
    web_port: int = Field(default=6066, ge=1, le=65535)
    #: Address the worker's web server (and its /metrics) listens on; 0.0.0.0 in a container.
    web_bind: str = "127.0.0.1"

    kafka: KafkaSettings = KafkaSettings()
    database: DatabaseSettings = DatabaseSettings()
    limits: LimitSettings = LimitSettings()
    drift: DriftSettings = DriftSettings()
    performance: PerformanceSettings = PerformanceSettings()
    api: ApiSettings = ApiSettings()
    security: SecuritySettings = SecuritySettings()
    smtp: SmtpSettings = SmtpSettings()
    mlflow: MlflowSettings = MlflowSettings()
    trainer: TrainerSettings = TrainerSettings()
    retrain: RetrainSettings = RetrainSettings()
    promotion: PromotionSettings = PromotionSettings()
    tracing: TracingSettings = TracingSettings()

    @model_validator(mode="after")
    def _app_id_is_a_kafka_name(self) -> Settings:
        if not self.app_id or any(not (c.isalnum() or c in "._-") for c in self.app_id):
            raise ValueError("APP_ID may hold letters, digits, '.', '_' and '-' only")
        return self

    @model_validator(mode="after")
    def _batches_fit_the_buffer(self) -> Settings:
        if self.drift.feature_batch_size * 4 > self.kafka.stream_buffer_size:
            raise ValueError(
                f"DRIFT__FEATURE_BATCH_SIZE ({self.drift.feature_batch_size}) must be at most "
                f"a quarter of KAFKA__STREAM_BUFFER_SIZE ({self.kafka.stream_buffer_size})")
        return self

    @model_validator(mode="after")
    def _shards_fit_the_partitions(self) -> Settings:
        # a shard is a partition: more shards than partitions would share them
        wide = {"DRIFT__SHARDS": self.drift.shards} | {
            f"DRIFT__MODELS.{name}.shards": o.shards for name, o in self.drift.models.items()
            if o.shards is not None}
        for where, shards in wide.items():
            if shards > self.kafka.partitions:
                raise ValueError(f"{where} is {shards}, more than KAFKA__PARTITIONS "
                                 f"({self.kafka.partitions})")
        return self

    @property
    def database_url(self) -> str:
        if self.database.url is not None:
            url = self.database.url.get_secret_value()
            sslmode = self.database.sslmode
            if sslmode and url.startswith("postgresql") and "sslmode=" not in url:
                url += ("&" if "?" in url else "?") + f"sslmode={sslmode}"
            return url
        return f"sqlite:///{(self.state_dir / 'driftline.sqlite3').resolve()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()

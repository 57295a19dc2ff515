"""What the model pages read, in queries that give the same answers on SQLite and PostgreSQL:
no DISTINCT ON, no date_trunc, no JSON operators — groupings the pages need are small (a
few dozen windows) and done here in Python."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from reports.verdicts import SEVERITY_RANK, WINDOW_TESTS
from storage.governance import (
    NotificationRow,
    PromotionDecisionRow,
    RetrainJobRow,
    RetrainRequestRow,
)
from storage.models import DriftResult, PerformanceMetric

#: windows the heatmap shows, newest last
HEATMAP_WINDOWS = 30
#: alert kinds that open an alert, and the one that closes it
OPENING = ("drift_alert", "performance_drop", "estimated_performance_drop")
CLOSING = "recovered"
DRIFT_KINDS = ("data_drift", "model_drift")
LIST_ROWS = 20


def utc(moment: datetime | None) -> datetime | None:
    """SQLite hands timestamps back without their zone; they were stored as UTC."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass(frozen=True)
class ModelSummary:
    name: str
    versions: tuple[str, ...]
    last_window: datetime | None
    features: int
    drifted: int
    worst: str
    alerting: bool
    last_alert: datetime | None


def _alert_times(session: Session, model: str | None = None) -> dict[str, dict[str, datetime]]:
    t = NotificationRow
    stmt = select(t.model_name, t.kind, func.max(t.decided_at)).where(
        t.kind.in_((*OPENING, CLOSING))).group_by(t.model_name, t.kind)
    if model is not None:
        stmt = stmt.where(t.model_name == model)
    latest: dict[str, dict[str, datetime]] = defaultdict(dict)
    for name, kind, moment in session.execute(stmt):
        latest[name][kind] = utc(moment)  # type: ignore[assignment]
    return latest


def _alerting(times: dict[str, datetime]) -> tuple[bool, datetime | None]:
    opened = max((times[k] for k in OPENING if k in times), default=None)
    closed = times.get(CLOSING)
    return opened is not None and (closed is None or opened > closed), opened


def models(engine: Engine) -> list[ModelSummary]:
    """Every model with drift or performance history, and its state now."""
    d = DriftResult
    with Session(engine) as session:
        names = set(session.scalars(select(d.model_name).group_by(d.model_name)))
        names |= set(session.scalars(select(PerformanceMetric.model_name)
                                     .group_by(PerformanceMetric.model_name)))
        versions: dict[str, set[str]] = defaultdict(set)
        for name, version in session.execute(select(d.model_name, d.model_version)
                                             .group_by(d.model_name, d.model_version)):
            versions[name].add(version)
        windowed = d.kind.in_(DRIFT_KINDS) & d.test.in_(WINDOW_TESTS)
        last = (select(d.model_name, func.max(d.window_end_time).label("end"))
                .where(windowed).group_by(d.model_name).subquery())
        latest_rows = session.execute(
            select(d.model_name, d.feature, d.drifted, d.severity, d.window_end_time)
            .join(last, (d.model_name == last.c.model_name) & (d.window_end_time == last.c.end))
            .where(windowed)).all()
        alerts = _alert_times(session)
    per_model: dict[str, dict[str, tuple[bool, str]]] = defaultdict(dict)
    ends: dict[str, datetime] = {}
    for row in latest_rows:
        drifted, severity = per_model[row.model_name].get(row.feature, (False, "none"))
        if SEVERITY_RANK.get(row.severity, 0) > SEVERITY_RANK.get(severity, 0):
            severity = row.severity
        per_model[row.model_name][row.feature] = (drifted or row.drifted, severity)
        ends[row.model_name] = utc(row.window_end_time)  # type: ignore[assignment]
    out = []
    for name in sorted(names):
        features = per_model.get(name, {})
        alerting, last_alert = _alerting(alerts.get(name, {}))
        worst = max((s for _, s in features.values()), key=lambda s: SEVERITY_RANK.get(s, 0),
                    default="none")
        out.append(ModelSummary(name, tuple(sorted(versions.get(name, ()))), ends.get(name),
                                len(features), sum(dr for dr, _ in features.values()), worst,
                                alerting, last_alert))
    return out


@dataclass
class Window:
    version: str
    start_seq: int
    end_seq: int
    start: datetime
    end: datetime
    size: int


@dataclass
class Cell:
    severity: str = "none"
    drifted: bool = False
    tests: list[str] = field(default_factory=list)


@dataclass
class Heatmap:
    windows: list[Window]
    features: list[str]
    cells: dict[tuple[str, int], Cell]


def heatmap(session: Session, model: str, windows: int = HEATMAP_WINDOWS) -> Heatmap:
    d = DriftResult
    windowed = (d.model_name == model) & d.kind.in_(DRIFT_KINDS) & d.test.in_(WINDOW_TESTS)
    ends = list(session.scalars(
        select(d.window_end_time).where(windowed)
        .group_by(d.window_end_time).order_by(d.window_end_time.desc()).limit(windows)))
    if not ends:
        return Heatmap([], [], {})
    rows = session.execute(
        select(d.model_version, d.window_start_seq, d.window_end_seq, d.window_start_time,
               d.window_end_time, d.current_size, d.feature, d.kind, d.test, d.statistic,
               d.p_value_adjusted, d.severity, d.drifted)
        .where(windowed, d.window_end_time >= min(ends))
        .order_by(d.window_end_time, d.model_version, d.window_start_seq)).all()
    index: dict[tuple[str, int, int], int] = {}
    found: list[Window] = []
    features: dict[str, str] = {}
    cells: dict[tuple[str, int], Cell] = {}
    for r in rows:
        key = (r.model_version, r.window_start_seq, r.window_end_seq)
        if key not in index:
            index[key] = len(found)
            found.append(Window(r.model_version, r.window_start_seq, r.window_end_seq,
                                utc(r.window_start_time), utc(r.window_end_time),  # type: ignore[arg-type]
                                r.current_size))
        features.setdefault(r.feature, r.kind)
        cell = cells.setdefault((r.feature, index[key]), Cell())
        if r.drifted and SEVERITY_RANK.get(r.severity, 0) >= SEVERITY_RANK.get(cell.severity, 0):
            cell.severity = r.severity
        cell.drifted = cell.drifted or r.drifted
        adjusted = "" if r.p_value_adjusted is None else f", adjusted p {r.p_value_adjusted:.2g}"
        cell.tests.append(f"{r.test} {r.statistic:.3g}{adjusted}")
    # inputs first, then the model's outputs, each by name
    order = sorted(features, key=lambda f: (features[f] != "data_drift", f))
    return Heatmap(found, order, cells)


@dataclass
class MetricSeries:
    metric: str
    realized: list[tuple[datetime, float]] = field(default_factory=list)
    estimated: list[tuple[datetime, float]] = field(default_factory=list)
    reference: float | None = None
    sample_sizes: list[int] = field(default_factory=list)

    @property
    def band(self) -> tuple[float, float] | None:
        """The reference's sampling band at the windows' typical size: ±3 standard errors
        of a proportion, for metrics that are proportions (accuracy, precision, ...)."""
        if self.reference is None or not 0.0 <= self.reference <= 1.0 or not self.sample_sizes:
            return None
        if self.metric not in PROPORTIONS:
            return None
        n = sorted(self.sample_sizes)[len(self.sample_sizes) // 2]
        if n <= 0:
            return None
        se = (self.reference * (1 - self.reference) / n) ** 0.5
        return max(0.0, self.reference - 3 * se), min(1.0, self.reference + 3 * se)


PROPORTIONS = frozenset({"accuracy", "precision", "recall", "f1", "roc_auc"})


def performance(session: Session, model: str, limit: int = 2000) -> list[MetricSeries]:
    """Each metric's windows, oldest first: realized and, where stored, estimated."""
    p = PerformanceMetric
    estimated = getattr(p, "estimated", None)  # the column arrives with label-free estimates
    columns: list[Any] = [p.metric, p.value, p.reference_value, p.sample_size, p.window_end_time]
    if estimated is not None:
        columns.append(estimated)
    rows = session.execute(select(*columns).where(p.model_name == model)
                           .order_by(p.window_end_time.desc()).limit(limit)).all()
    series: dict[str, MetricSeries] = {}
    for row in reversed(rows):
        s = series.setdefault(row.metric, MetricSeries(row.metric))
        if row.value is None:
            continue
        point = (utc(row.window_end_time), float(row.value))
        if estimated is not None and row.estimated:
            s.estimated.append(point)  # type: ignore[arg-type]
        else:
            s.realized.append(point)  # type: ignore[arg-type]
            s.sample_sizes.append(row.sample_size)
            if row.reference_value is not None:
                s.reference = float(row.reference_value)
    return sorted(series.values(), key=lambda s: (s.metric not in PROPORTIONS, s.metric))


@dataclass
class ModelHistory:
    heatmap: Heatmap
    performance: list[MetricSeries]
    alerts: list[Any]
    requests: list[Any]
    jobs: list[Any]
    promotions: list[Any]
    alerting: bool
    versions: list[str]


def model_history(engine: Engine, model: str) -> ModelHistory | None:
    """Everything the model page shows; ``None`` for a model driftline has never seen."""
    with Session(engine) as session:
        heat = heatmap(session, model)
        perf = performance(session, model)

        def newest(row: Any, when: Any) -> list[Any]:
            return list(session.scalars(select(row).where(row.model_name == model)
                                        .order_by(when.desc()).limit(LIST_ROWS)))

        alerts = newest(NotificationRow, NotificationRow.decided_at)
        requests = newest(RetrainRequestRow, RetrainRequestRow.timestamp)
        jobs = newest(RetrainJobRow, RetrainJobRow.updated_at)
        promotions = newest(PromotionDecisionRow, PromotionDecisionRow.timestamp)
        versions = sorted(set(session.scalars(
            select(DriftResult.model_version).where(DriftResult.model_name == model)
            .group_by(DriftResult.model_version))))
        alerting, _ = _alerting(_alert_times(session, model).get(model, {}))
        session.expunge_all()
    if not (heat.windows or perf or alerts or requests or jobs or promotions):
        return None
    return ModelHistory(heat, perf, alerts, requests, jobs, promotions, alerting, versions)


def latest_window(engine: Engine, model: str) -> tuple[Window, list[Any]] | None:
    """The rows of the model's latest window, for its report."""
    d = DriftResult
    windowed = (d.model_name == model) & d.kind.in_(DRIFT_KINDS) & d.test.in_(WINDOW_TESTS)
    with Session(engine) as session:
        end = session.scalar(select(func.max(d.window_end_time)).where(windowed))
        if end is None:
            return None
        rows = list(session.scalars(select(d).where(windowed, d.window_end_time == end)
                                    .order_by(d.feature, d.test)))
        session.expunge_all()
    first = rows[0]
    window = Window(first.model_version, first.window_start_seq, first.window_end_seq,
                    utc(first.window_start_time), utc(first.window_end_time),  # type: ignore[arg-type]
                    first.current_size)
    return window, rows

"""Alerts of the monitors: their text and their de-duplication key, in one place.

The monitors decide *that* an alert fires or recovers (alert hygiene, k of the last m
windows) and say so with an ``AlertSignal``; what the message says and which key the
notifier de-duplicates it under are decided here (:func:`render`), next to
:mod:`governance.messages` (the loop's alerts), with the one key builder every alert uses.

The key is (model, version, kind, subject): re-fires of one alert — the same features of
the same model version, the same kind and outcome — share it, so the notifier merges them
within ``SMTP__DEDUP_MINUTES``; a new model version (whose window sequence numbers start
again) or a different feature set never does.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from schemas.events import Alert, DriftEvent
from schemas.spec import SCHEMA_VERSION

#: the namespace alert ids have always been made in (ids must not change across versions)
NAMESPACE = uuid.UUID("5b0d7c8e-4d52-4a55-9a53-6472696674c1")
SEVERITY_ORDER = ("none", "low", "medium", "high")
#: Alert.dedup_key is bounded text; a long feature set is named by a digest
MAX_KEY = 240


def alert_key(model: str, version: str, kind: str, subject: Iterable[str]) -> str:
    """The de-duplication key of an alert about ``subject`` (features, metrics, a request
    id) of ``model`` ``version``; ``kind`` says what happened (``data_drift:fired``)."""
    names = ",".join(sorted(set(subject)))
    key = f"{model}|{version}|{kind}|{names}"
    if len(key) <= MAX_KEY:
        return key
    digest = hashlib.sha256(names.encode()).hexdigest()[:32]
    head = f"{model}|{version}|{kind}|"
    return f"{head[:MAX_KEY - 40]}sha256:{digest}"


def alert_id(outcome: str, events: Sequence[DriftEvent]) -> str:
    return str(uuid.uuid5(NAMESPACE, "|".join(["alert", outcome, *(e.event_id for e in events)])))


def render(signal: Any) -> Alert:
    """The alert for a monitor's :class:`monitors.drift_monitor.AlertSignal`."""
    if signal.kind in ("performance_drop", "estimated_performance_drop"):
        return performance_alert(signal.events, signal.outcome,
                                 estimated=signal.kind == "estimated_performance_drop")
    return drift_alert(signal.events, signal.outcome, signal.kind, signal.k, signal.m)


def drift_alert(events: Sequence[DriftEvent], outcome: str, kind: str, k: int, m: int) -> Alert:
    """The alert for the features of one window that fired (or recovered) together."""
    recovered = outcome == "recovered"
    first = events[0]
    what = "model drift" if kind == "model_drift" else "drift"
    names = ", ".join(e.feature for e in events)
    severity = max((e.severity for e in events), key=SEVERITY_ORDER.index)
    subject = (f"[driftline] {first.model_name} v{first.model_version}: {what} "
               + (f"recovered on {names}" if recovered else f"({severity}) on {names}"))
    lines = [
        f"{names} of {first.model_name} version {first.model_version} "
        + ("{} back in line with the reference".format("is" if len(events) == 1 else "are")
           if recovered else f"drifted in at least {k} of the last {m} windows") + ".",
        f"Latest window: events {first.window_start_seq}-{first.window_end_seq} "
        f"({first.window_start_time} to {first.window_end_time}).",
    ]
    for e in events:
        p = "n/a" if e.p_value is None else f"{e.p_value:.3g}"
        psi = "n/a" if e.effect is None else f"{e.effect:.3f}"
        stat = "n/a" if e.statistic is None else f"{e.statistic:.4f}"
        found = [name for name, r in (e.tests or {}).items() if r.get("drifted")]
        lines.append(f"- {e.feature}: {e.test} statistic {stat}, p-value {p}, "
                     f"PSI {psi}, severity {e.severity}"
                     + (f"; drifted on {', '.join(found)}" if found else ""))
    return Alert(
        event_id=alert_id(outcome, events), schema_version=SCHEMA_VERSION,
        model_name=first.model_name, model_version=first.model_version,
        timestamp=first.timestamp, kind="recovered" if recovered else "drift_alert",
        severity="none" if recovered else severity,
        subject=subject[:256], summary="\n".join(lines),
        dedup_key=alert_key(first.model_name, first.model_version, f"{kind}:{outcome}",
                            (e.feature for e in events)),
        details={"features": [e.feature for e in events], "kind": kind,
                 "window_start_seq": first.window_start_seq,
                 "window_end_seq": first.window_end_seq,
                 "results": {e.feature: {"test": e.test, "statistic": e.statistic,
                                         "p_value": e.p_value, "psi": e.effect,
                                         "severity": e.severity} for e in events}},
        source_event_id=first.event_id,
    )


def performance_alert(events: Sequence[DriftEvent], outcome: str, *,
                      estimated: bool = False) -> Alert:
    """The alert for the metrics of one window that dropped (or recovered): measured on
    labelled predictions, or ``estimated`` without labels (CBPE) before they arrive."""
    recovered = outcome == "recovered"
    first = events[0]
    names = ", ".join(e.feature for e in events)
    severity = "high" if any(e.severity == "high" for e in events) else "medium"
    where = (f"predictions {first.window_start_seq}-{first.window_end_seq} of "
             f"{first.model_name} version {first.model_version} ({first.window_start_time} "
             f"to {first.window_end_time})")
    if estimated:
        lines = [f"Estimated without labels (CBPE) on {where}; labels have not confirmed it yet:"]
    else:
        lines = [f"On labelled {where}:"]
    lines += [f"- {e.feature}: {e.statistic:.4f} (reference "
              f"{e.tests['reference']['statistic']:.4f})" for e in events if e.tests]
    kind = "estimated_performance_drop" if estimated else "performance_drop"
    what = "estimated performance" if estimated else "performance"
    details: dict[str, Any] = {
        "features": [e.feature for e in events],
        "values": {e.feature: e.statistic for e in events},
        "references": {e.feature: e.tests["reference"]["statistic"] for e in events if e.tests}}
    if estimated:
        details["estimated"] = True
    return Alert(
        event_id=alert_id(outcome, events), schema_version=SCHEMA_VERSION,
        model_name=first.model_name, model_version=first.model_version,
        timestamp=first.timestamp, kind="recovered" if recovered else kind,
        severity="none" if recovered else severity,
        subject=(f"[driftline] {first.model_name} v{first.model_version}: {what} "
                 + (f"recovered on {names}" if recovered else f"dropped on {names}"))[:256],
        summary="\n".join(lines),
        dedup_key=alert_key(first.model_name, first.model_version, f"{kind}:{outcome}",
                            (e.feature for e in events)),
        details=details,
        source_event_id=first.event_id)

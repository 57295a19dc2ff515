"""Alert e-mails: one text and one HTML body per alert, worded by kind.

Pure: an :class:`schemas.events.Alert` (or anything with its fields) in, an
:class:`email.message.EmailMessage` out. Every value from the alert is escaped in HTML.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

#: kind -> (headline, what the reader should do)
KIND_TEXT: Mapping[str, tuple[str, str]] = {
    "drift_alert": ("Drift detected", "Check the features named below; a retrain may follow."),
    "recovered": ("Drift recovered", "No action needed: the distribution is back in range."),
    "performance_drop": ("Performance dropped", "Check recent labels; a retrain may follow."),
    "estimated_performance_drop": ("Estimated performance dropped",
                                   "Estimated without labels (CBPE); check the inputs before "
                                   "labels confirm it."),
    "retrain_decision": ("Retrain decision", "Decided automatically; the reason is below."),
    "training_failed": ("Training failed", "The request is marked failed; see the error below."),
    "promotion_decision": ("Promotion decision", "The evidence for each criterion is below."),
}
MAX_DETAIL_CHARS = 2000


def _value_text(value: Any) -> str:
    if isinstance(value, dict | list):
        text = json.dumps(value, sort_keys=True, default=str)
    elif isinstance(value, float):
        text = f"{value:.6g}"
    else:
        text = str(value)
    return text if len(text) <= MAX_DETAIL_CHARS else text[:MAX_DETAIL_CHARS] + "…"


def render_text(alert: Any) -> str:
    headline, action = KIND_TEXT.get(alert.kind, (alert.kind, ""))
    lines = [
        f"{headline}: {alert.model_name} (version {alert.model_version})",
        f"Severity: {alert.severity}",
        f"Time: {alert.timestamp}",
        "",
        alert.summary,
        "",
        action,
    ]
    if alert.details:
        lines += ["", "Details:"]
        lines += [f"  {key}: {_value_text(value)}" for key, value in sorted(alert.details.items())]
    lines += ["", f"Alert id: {alert.event_id}", "-- driftline"]
    return "\n".join(lines) + "\n"


def render_html(alert: Any) -> str:
    e = html.escape
    headline, action = KIND_TEXT.get(alert.kind, (alert.kind, ""))
    rows = "".join(
        f"<tr><th style=\"text-align:left;padding-right:1em\">{e(str(key))}</th>"
        f"<td><code>{e(_value_text(value))}</code></td></tr>"
        for key, value in sorted((alert.details or {}).items()))
    details = f"<table>{rows}</table>" if rows else ""
    summary = "<br>".join(e(line) for line in alert.summary.splitlines())
    return (
        "<!doctype html><html><body style=\"font-family:sans-serif\">"
        f"<h2>{e(headline)}: {e(alert.model_name)} <small>v{e(alert.model_version)}</small></h2>"
        f"<p><strong>Severity:</strong> {e(alert.severity)} &middot; "
        f"<strong>Time:</strong> {e(alert.timestamp)}</p>"
        f"<p>{summary}</p><p><em>{e(action)}</em></p>{details}"
        f"<p style=\"color:#888\">Alert id {e(alert.event_id)} &middot; driftline</p>"
        "</body></html>"
    )


def render(alert: Any, *, sender: str, recipients: Sequence[str],
           now: datetime | None = None) -> EmailMessage:
    """The message for ``alert``: subject from the alert, text and HTML alternatives."""
    if not recipients:
        raise ValueError("no recipients")
    message = EmailMessage()
    message["Subject"] = alert.subject
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Message-ID"] = make_msgid(idstring=alert.event_id.replace("-", ""), domain="driftline")
    message["X-Driftline-Alert-Kind"] = alert.kind
    message["X-Driftline-Model"] = alert.model_name
    if now is not None:
        message["Date"] = format_datetime(now)
    message.set_content(render_text(alert))
    message.add_alternative(render_html(alert), subtype="html")
    return message

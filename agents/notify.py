"""Notification agent: alerts → e-mail, de-duplicated and rate-limited, never blocking others.

Per alert: skip it if the log already has it (a replay); log it as ``deduplicated`` when the
same (model, kind, dedup key) was mailed within ``SMTP__DEDUP_MINUTES``, as ``rate_limited``
past ``SMTP__RATE_LIMIT_PER_HOUR`` mails per (model, kind); otherwise render and send, with
retries bounded in attempts and time. What stays undeliverable is logged as ``failed`` and
dead-lettered with the reason. This agent is alone on ``alerts``, so an SMTP outage slows
only the mail.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import faust
from faust.types import EventT

from agents.sinks import engine
from faust_app import app, settings
from governance.emails import render
from integrations.mailer import Mailer, SmtpConfig
from observability import tracing
from observability.logs import correlated
from observability.metrics import EMAILS
from schemas.events import Alert, decode
from schemas.reasons import Reason
from schemas.spec import InvalidEvent
from storage.governance_repository import notification_history, record_notification
from streams.deadletters import send_dead_letter
from streams.telemetry import handling
from streams.topics import alerts_topic

log = logging.getLogger(__name__)
LIMITS = settings.limits.for_events()
clock: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731

_s = settings.smtp
MAILER = Mailer(SmtpConfig(
    host=_s.host, port=_s.port, security=_s.security, username=_s.username,
    password=_s.password.get_secret_value() if _s.password else None, timeout=_s.timeout,
    attempts=_s.attempts, max_seconds=_s.max_retry_seconds, backoff_base=_s.backoff_base))


async def _record(alert: Alert, status: str, attempts: int = 0, error: str | None = None) -> None:
    EMAILS.labels(status).inc()  # once per decision: a replayed alert is not recorded again
    try:
        await asyncio.to_thread(
            record_notification, engine(), alert_id=alert.event_id, model_name=alert.model_name,
            kind=alert.kind, dedup_key=alert.dedup_key, subject=alert.subject, status=status,
            attempts=attempts, error=error, recipients=_s.recipient_list, decided_at=clock())
    except Exception:  # the mail went (or not) either way; losing the log line is the lesser harm
        log.exception("could not log notification %s (%s)", alert.event_id, status)


async def handle(event: EventT, alert: Alert) -> str:
    """Mail one alert (or decide not to); returns the status logged."""
    now = clock()
    try:
        history = await asyncio.to_thread(
            notification_history, engine(), alert_id=alert.event_id, model_name=alert.model_name,
            kind=alert.kind, dedup_key=alert.dedup_key,
            dedup_since=now - timedelta(minutes=_s.dedup_minutes),
            rate_since=now - timedelta(hours=1))
    except Exception:
        log.exception("notification log unreadable; mailing %s without de-duplication",
                      alert.event_id)
        history = None
    if history is not None:
        if history.already is not None:
            return history.already
        if history.duplicate_of_recent:
            await _record(alert, "deduplicated")
            return "deduplicated"
        if history.sent_in_last_hour >= _s.rate_limit_per_hour:
            await _record(alert, "rate_limited")
            return "rate_limited"
    message = render(alert, sender=_s.sender, recipients=_s.recipient_list, now=now)
    with tracing.span("smtp send", kind=tracing.SpanKind.CLIENT, attributes={
            "server.address": _s.host, "server.port": _s.port, "driftline.alert.kind": alert.kind}):
        result = await MAILER.send(message)
    if result.delivered:
        await _record(alert, "sent", result.attempts)
        log.info("mailed %s alert for %s: %s", alert.kind, alert.model_name, alert.subject)
        return "sent"
    await _record(alert, "failed", result.attempts, result.error)
    await send_dead_letter(event, f"smtp: undeliverable after {result.attempts} attempt(s): "
                                  f"{result.error}", Reason.SMTP_REJECTED)
    return "failed"


@app.agent(alerts_topic, concurrency=1)
async def notify(stream: faust.StreamT[bytes]) -> None:
    async for event in stream.events():
        with handling([event]):
            try:
                alert = decode(event.message.value, Alert, LIMITS)
            except InvalidEvent as exc:
                await send_dead_letter(event, exc.reason, exc.code)
                continue
            try:
                with correlated(alert.event_id):
                    await handle(event, alert)
            except Exception as exc:
                log.exception("notifying %s failed", alert.event_id)
                await send_dead_letter(event, f"notifier error: {exc!r}"[:1000],
                                       Reason.INTERNAL_ERROR)

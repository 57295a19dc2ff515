"""Notification agent: alerts → e-mail, de-duplicated and rate-limited, never blocking others.

Per alert: skip it if the log already has it (a replay); log it as ``deduplicated`` when the
same (model, kind, dedup key — :func:`governance.alerts.alert_key`) was mailed within
``SMTP__DEDUP_MINUTES``, as ``rate_limited`` past ``SMTP__RATE_LIMIT_PER_HOUR`` mails per
(model, kind); otherwise render and send. An SMTP server that is down (or answers 4xx) and a
database that is down are backpressure: the agent holds the alert and retries until they
are back, so every fired alert is mailed once. Only a mail the server refuses for good (5xx)
is logged as ``failed`` and dead-lettered (``smtp_rejected``). This agent is alone on
``alerts``, so an SMTP outage slows only the mail.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import faust
from faust.types import EventT

from faust_app import app, database, settings
from governance.emails import render
from integrations.mailer import Mailer, SendResult, SmtpConfig
from observability import tracing
from observability.logs import correlated
from observability.metrics import EMAILS
from resilience.backpressure import Unavailable, hold
from schemas.events import Alert, decode
from schemas.reasons import Reason
from schemas.spec import InvalidEvent
from storage.db import is_transient
from storage.governance_repository import notification_history, record_notification
from streams.deadletters import send_dead_letter
from streams.gaps import process_batches
from streams.telemetry import use_event
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
    """Log the decision; held while the database is down, since the log is what keeps a
    redelivered alert from being mailed twice."""
    await hold("postgres", lambda: asyncio.to_thread(
        record_notification, database(), alert_id=alert.event_id, model_name=alert.model_name,
        kind=alert.kind, dedup_key=alert.dedup_key, subject=alert.subject, status=status,
        attempts=attempts, error=error, recipients=_s.recipient_list, decided_at=clock()),
        transient=is_transient, agent="notify")
    EMAILS.labels(status).inc()  # once per decision: a replayed alert is not recorded again


async def deliver(message: EmailMessage) -> SendResult:
    """Send ``message``, holding while the SMTP server is unreachable or answers 4xx: an
    outage delays the mail, it never loses it. A permanent refusal is returned."""

    async def once() -> SendResult:
        result = await MAILER.send(message)
        if not result.delivered and not result.permanent:
            raise Unavailable(result.error or "no answer")
        return result

    return await hold("smtp", once, transient=lambda exc: isinstance(exc, Unavailable),
                      agent="notify")


async def handle(event: EventT, alert: Alert) -> str:
    """Mail one alert (or decide not to); returns the status logged."""
    now = clock()
    history = await hold("postgres", lambda: asyncio.to_thread(
        notification_history, database(), alert_id=alert.event_id, model_name=alert.model_name,
        kind=alert.kind, dedup_key=alert.dedup_key,
        dedup_since=now - timedelta(minutes=_s.dedup_minutes),
        rate_since=now - timedelta(hours=1)), transient=is_transient, agent="notify")
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
        result = await deliver(message)
    if result.delivered:
        await _record(alert, "sent", result.attempts)
        log.info("mailed %s alert for %s: %s", alert.kind, alert.model_name, alert.subject)
        return "sent"
    await _record(alert, "failed", result.attempts, result.error)
    await send_dead_letter(event, f"smtp: refused: {result.error}"[:1000], Reason.SMTP_REJECTED)
    return "failed"


async def process_batch(events: list[EventT]) -> None:
    for event in events:
        try:
            alert = decode(event.message.value, Alert, LIMITS)
        except InvalidEvent as exc:
            await send_dead_letter(event, exc.reason, exc.code)
            continue
        with use_event(event), correlated(alert.event_id):
            await handle(event, alert)


@app.agent(alerts_topic, concurrency=1)
async def notify(stream: faust.StreamT[bytes]) -> None:
    await process_batches(app, stream, "notify", process_batch, size=20, within=0.5,
                          enabled=settings.kafka.offset_guard)

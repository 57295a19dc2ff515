"""Sending e-mail over SMTP with aiosmtplib: plain, STARTTLS or implicit TLS, optional login.

:meth:`Mailer.send` retries transient failures (connection refused, timeouts, 4xx replies)
with jittered backoff, bounded both in attempts and in total time, so one undeliverable
message costs the notifier at most ``max_seconds``. Permanent failures (5xx replies,
refused recipients) are not retried.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.message import EmailMessage

import aiosmtplib

from integrations.resilience import Backoff

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    security: str = "none"  # none | starttls | tls
    username: str | None = None
    password: str | None = None
    timeout: float = 10.0
    attempts: int = 4
    max_seconds: float = 30.0
    backoff_base: float = 0.5


@dataclass(frozen=True)
class SendResult:
    delivered: bool
    attempts: int
    error: str | None = None


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return 400 <= exc.code < 500
    return isinstance(exc, aiosmtplib.SMTPConnectError | aiosmtplib.SMTPServerDisconnected
                      | aiosmtplib.SMTPTimeoutError | OSError | asyncio.TimeoutError)


class Mailer:
    def __init__(self, config: SmtpConfig, *,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 rng: random.Random | None = None) -> None:
        self.config = config
        self.backoff = Backoff(base=config.backoff_base, cap=max(config.backoff_base, 8.0))
        self._sleep = sleep
        self._rng = rng

    async def _send_once(self, message: EmailMessage) -> None:
        c = self.config
        await aiosmtplib.send(
            message, hostname=c.host, port=c.port, username=c.username, password=c.password,
            use_tls=c.security == "tls", start_tls=c.security == "starttls",
            timeout=c.timeout)

    async def send(self, message: EmailMessage) -> SendResult:
        deadline = time.monotonic() + self.config.max_seconds
        error = ""
        for attempt in range(1, self.config.attempts + 1):
            try:
                remaining = max(0.1, deadline - time.monotonic())
                await asyncio.wait_for(self._send_once(message), timeout=remaining)
                return SendResult(True, attempt)
            except Exception as exc:  # classified below; nothing escapes a send
                error = f"{exc.__class__.__name__}: {exc}".strip()[:1000]
                if not is_transient(exc):
                    return SendResult(False, attempt, f"permanent: {error}")
            if attempt == self.config.attempts:
                break
            delay = self.backoff.delay(attempt - 1, self._rng)
            if time.monotonic() + delay >= deadline:
                break
            log.warning("SMTP %s:%s failed (%s); retry %d in %.2fs", self.config.host,
                        self.config.port, error, attempt, delay)
            await self._sleep(delay)
        return SendResult(False, attempt, error)

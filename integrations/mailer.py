"""Sending e-mail over SMTP with aiosmtplib: plain, STARTTLS or implicit TLS, optional login.

:meth:`Mailer.send` retries transient failures (connection refused, timeouts, 4xx replies)
with jittered backoff (:class:`resilience.retry.Retry`), bounded both in attempts and
in total time, so one call costs at most ``max_seconds``; the notifier then holds the alert
and calls again (backpressure) while the server stays unreachable. Permanent failures (5xx
replies, refused recipients) are not retried.
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

from resilience.retry import Backoff, Retry

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
    #: the server refused (5xx, recipients refused): retrying cannot help
    permanent: bool = False


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
        """Deliver ``message``; never raises. ``SendResult.permanent`` tells a refusal that
        retrying cannot fix from a server that did not answer usefully."""
        c = self.config
        deadline = time.monotonic() + c.max_seconds
        attempts = 0

        async def once() -> None:
            nonlocal attempts
            attempts += 1
            remaining = max(0.1, deadline - time.monotonic())
            await asyncio.wait_for(self._send_once(message), timeout=remaining)

        def report(attempt: int, exc: BaseException, delay: float) -> None:
            log.warning("SMTP %s:%s failed (%s); retry %d in %.2fs", c.host, c.port,
                        _describe(exc), attempt, delay)

        policy = Retry(self.backoff, attempts=c.attempts, max_seconds=c.max_seconds)
        try:
            await policy.call_async(once, transient=is_transient, sleep=self._sleep,
                                    rng=self._rng, on_retry=report)
        except Exception as exc:  # classified: nothing escapes a send
            if not is_transient(exc):
                return SendResult(False, attempts, f"permanent: {_describe(exc)}", permanent=True)
            return SendResult(False, attempts, _describe(exc))
        return SendResult(True, attempts)


def _describe(exc: BaseException) -> str:
    return f"{exc.__class__.__name__}: {exc}".strip()[:1000]

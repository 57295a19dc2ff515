"""Readiness probes of the services driftline depends on: Kafka, the database, MLflow, the
training service and SMTP.

Each probe returns a :class:`Probe` (never raises), bounded by a timeout, so one stuck
dependency cannot hang a health check.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
from sqlalchemy import Engine, text

from settings import KafkaSettings


@dataclass(frozen=True)
class Probe:
    ok: bool
    latency_ms: float
    detail: str | None = None


async def _timed(check: Callable[[], Awaitable[str | None]], timeout: float) -> Probe:
    began = time.perf_counter()
    try:
        detail = await asyncio.wait_for(check(), timeout)
        return Probe(True, _ms(began), detail)
    except TimeoutError:
        return Probe(False, _ms(began), f"no answer within {timeout:g}s")
    except Exception as exc:  # reported, not raised: that is the point of a probe
        return Probe(False, _ms(began), scrub(f"{exc.__class__.__name__}: {str(exc)[:200]}"))


_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/@\s]*@")


def scrub(text: str) -> str:
    """``text`` with the credentials of any URL in it removed (``http://u:p@h`` -> ``http://h``):
    error messages quote the URL they failed on."""
    return _USERINFO.sub(r"\1", text)


def _ms(began: float) -> float:
    return round((time.perf_counter() - began) * 1000, 2)


async def probe_kafka(kafka: KafkaSettings, timeout: float) -> Probe:
    """Fetch cluster metadata from the bootstrap brokers (TLS/SASL as configured)."""
    from aiokafka import AIOKafkaClient

    from streams.admin import client_options

    async def check() -> str | None:
        client = AIOKafkaClient(request_timeout_ms=int(timeout * 1000), **client_options(kafka))
        try:
            await client.bootstrap()
            brokers = len(client.cluster.brokers())
        finally:
            await client.close()
        return f"{brokers} broker(s)"

    return await _timed(check, timeout)


async def probe_database(engine: Engine, timeout: float) -> Probe:
    def ping() -> str | None:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return None

    async def check() -> str | None:
        return await asyncio.to_thread(ping)

    return await _timed(check, timeout)


async def probe_mlflow(tracking_uri: str, timeout: float) -> Probe:
    """GET ``/health`` of the tracking server; a non-HTTP store (a local path) has none."""
    if not tracking_uri.startswith(("http://", "https://")):
        return Probe(True, 0.0, "not an HTTP tracking server; nothing to probe")

    async def check() -> str | None:
        async with httpx.AsyncClient(timeout=timeout) as client:
            response = await client.get(tracking_uri.rstrip("/") + "/health")
        response.raise_for_status()
        return None

    return await _timed(check, timeout)


async def probe_trainer(url: str, timeout: float) -> Probe:
    """GET ``/health`` of the training service."""

    async def check() -> str | None:
        async with httpx.AsyncClient(timeout=timeout) as client:
            response = await client.get(url.rstrip("/") + "/health")
        response.raise_for_status()
        return None

    return await _timed(check, timeout)


async def probe_smtp(host: str, port: int, security: str, timeout: float) -> Probe:
    """Connect (TLS as configured), EHLO and NOOP: the server would take a message now."""
    import aiosmtplib

    async def check() -> str | None:
        client = aiosmtplib.SMTP(hostname=host, port=port, timeout=timeout,
                                 use_tls=security == "tls", start_tls=security == "starttls")
        await client.connect()
        try:
            await client.noop()
        finally:
            client.close()
        return None

    return await _timed(check, timeout)

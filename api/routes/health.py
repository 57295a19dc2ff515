"""Liveness and readiness. Neither needs an API key: orchestrators and load balancers call them.

Readiness separates what the API cannot work without (Kafka, the database, MLflow: 503 when
one fails) from what it does not call on a request's path (the training service, SMTP):
those make the status ``degraded``, still 200. Anyone sees which check failed; only an
admin's key gets each check's detail (error messages name hosts and ports), and even then
without credentials.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.deps import EngineDep, SettingsDep
from api.models import CheckOut, LivenessOut, ReadinessOut
from integrations.health import (
    probe_database,
    probe_kafka,
    probe_mlflow,
    probe_smtp,
    probe_trainer,
    scrub,
)
from storage.keys import Principal

router = APIRouter(prefix="/health", tags=["health"])
CRITICAL = ("kafka", "database", "mlflow")


@router.get("/live", response_model=LivenessOut, summary="The process answers")
async def live() -> LivenessOut:
    return LivenessOut()


@router.get(
    "/ready", response_model=ReadinessOut,
    summary="Kafka, the database and MLflow answer (the trainer and SMTP only degrade)",
    responses={503: {"model": ReadinessOut, "description": "A critical check failed; "
                     "``checks`` says which (with details for an admin's key)."}},
)
async def ready(request: Request, settings: SettingsDep, engine: EngineDep) -> JSONResponse:
    timeout = settings.api.health_timeout_seconds
    smtp = settings.smtp
    probes = await asyncio.gather(
        probe_kafka(settings.kafka, timeout),
        probe_database(engine, timeout),
        probe_mlflow(settings.mlflow.tracking_uri, timeout),
        probe_trainer(settings.trainer.url, timeout),
        probe_smtp(smtp.host, smtp.port, smtp.security, timeout),
    )
    principal = getattr(request.state, "principal", None)
    admin = isinstance(principal, Principal) and principal.role == "admin"
    names = (*CRITICAL, "trainer", "smtp")
    checks = {name: CheckOut(ok=p.ok, critical=name in CRITICAL, latency_ms=p.latency_ms,
                             detail=scrub(p.detail) if admin and p.detail else None)
              for name, p in zip(names, probes, strict=True)}
    if not all(c.ok for c in checks.values() if c.critical):
        status, code = "unavailable", 503
    elif not all(c.ok for c in checks.values()):
        status, code = "degraded", 200
    else:
        status, code = "ok", 200
    body = ReadinessOut(status=status, checks=checks)
    return JSONResponse(body.model_dump(mode="json", exclude_none=True), status_code=code)

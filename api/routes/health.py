"""Liveness and readiness. Neither needs an API key: orchestrators and load balancers call them."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import EngineDep, SettingsDep
from api.models import CheckOut, LivenessOut, ReadinessOut
from integrations.health import probe_database, probe_kafka, probe_mlflow

router = APIRouter(prefix="/health", tags=["health"])


@router.get("/live", response_model=LivenessOut, summary="The process answers")
async def live() -> LivenessOut:
    return LivenessOut()


@router.get(
    "/ready", response_model=ReadinessOut, summary="Kafka, PostgreSQL and MLflow answer",
    responses={503: {"model": ReadinessOut, "description": "At least one check failed; "
                     "``checks`` says which and why."}},
)
async def ready(settings: SettingsDep, engine: EngineDep) -> JSONResponse:
    timeout = settings.api.health_timeout_seconds
    kafka, database, mlflow = await asyncio.gather(
        probe_kafka(settings.kafka, timeout),
        probe_database(engine, timeout),
        probe_mlflow(settings.mlflow.tracking_uri, timeout),
    )
    checks = {name: CheckOut(ok=p.ok, detail=p.detail, latency_ms=p.latency_ms)
              for name, p in (("kafka", kafka), ("postgresql", database), ("mlflow", mlflow))}
    ok = all(c.ok for c in checks.values())
    body = ReadinessOut(status="ok" if ok else "unavailable", checks=checks)
    return JSONResponse(body.model_dump(mode="json"), status_code=200 if ok else 503)

"""The FastAPI application: settings in, app out. Routers live in ``api/routes/``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from functools import partial
from importlib import metadata

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi_offline import FastAPIOffline

from api import errors
from api.bodies import BodySizeLimit, JsonBodyGuard
from api.detection import UploadSlots
from api.gate import Gate, KnownRoutes
from api.metrics import HttpMetrics
from api.middleware import AuditTrail, RequestContext
from api.publisher import EventPublisher
from api.ratelimit import TokenBuckets
from api.routes import (
    analytics,
    audit,
    drift,
    export,
    health,
    keys,
    metrics,
    performance,
    promotions,
    redteam,
    retrain,
)
from api.ui import router as ui_router
from schemas.pii import hash_pii
from settings import Settings
from storage.audit import begin_audit, finish_audit, write_audit
from storage.db import make_engine
from storage.partitions import maintain_partitions
from storage.pii import policy_for

log = logging.getLogger(__name__)
DAY = 24 * 3600.0
#: where FastAPIOffline serves the docs' JavaScript and CSS
DOCS_ASSETS = "/static-offline-docs/"


async def _partitions_daily(app: FastAPI) -> None:
    while True:
        try:
            months = app.state.settings.database.partitions_ahead_months
            await asyncio.to_thread(maintain_partitions, app.state.engine, months_ahead=months)
        except Exception:  # retried tomorrow; the DEFAULT partition catches rows meanwhile
            log.exception("partition maintenance failed")
        await asyncio.sleep(DAY)


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    task = asyncio.create_task(_partitions_daily(app))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await app.state.publisher.close()
        app.state.engine.dispose()


def _version() -> str:
    try:
        return metadata.version("driftline")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "0+unknown"


def create_app(settings: Settings) -> FastAPI:
    # the docs' JavaScript and CSS come from a package, not a CDN: /docs works offline
    app = FastAPIOffline(title="driftline", version=_version(), lifespan=lifespan,
                         static_url=DOCS_ASSETS.rstrip("/"),
                         description="Drift, performance and security history of models in production.")
    api = settings.api
    key = settings.security.hmac_key.get_secret_value().encode() if settings.security.hmac_key else None
    engine = make_engine(settings.database_url, pool_size=settings.database.pool_size,
                         pii=policy_for(settings.security))
    app.state.settings = settings
    app.state.engine = engine
    app.state.metrics = HttpMetrics()
    app.state.redact = partial(hash_pii, fields=settings.security.pii_fields, key=key)
    app.state.publisher = EventPublisher(settings.kafka, timeout=api.publish_timeout_seconds)
    app.state.uploads = UploadSlots(api.max_concurrent_uploads)

    for module in (health, drift, performance, analytics, redteam, retrain, promotions, export,
                   audit, keys, metrics):
        app.include_router(module.router)
    app.include_router(ui_router)  # the model pages (HTML), after the JSON routes
    errors.install(app)
    # Starlette wraps the app in the middleware added last first. From the outside in:
    # request id/metrics/trace and edge checks -> CORS -> who is calling (and rate limits)
    # -> the audit trail of mutations -> body size -> JSON body checks -> the routes.
    app.add_middleware(JsonBodyGuard)
    app.add_middleware(BodySizeLimit, max_bytes=api.max_request_bytes,
                       max_upload_bytes=api.max_upload_bytes)
    app.add_middleware(AuditTrail, begin=partial(begin_audit, engine),
                       finish=partial(finish_audit, engine), redact=app.state.redact)
    routes = KnownRoutes(app, docs_assets=DOCS_ASSETS, own_sessions=ui_router.prefix)
    # per client address, before any key is looked up; the model pages' login form spends
    # from the same buckets when a posted key is wrong
    app.state.client_buckets = TokenBuckets(api.client_rate_limit_per_minute,
                                            api.client_rate_limit_burst,
                                            max_keys=api.rate_limit_max_buckets)
    app.add_middleware(Gate, engine=engine, routes=routes,
                       redact=app.state.redact,
                       audit=partial(write_audit, engine),
                       clients=app.state.client_buckets,
                       keys=TokenBuckets(api.rate_limit_per_minute, api.rate_limit_burst,
                                         max_keys=api.rate_limit_max_buckets))
    if api.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=api.cors_origins,
                           allow_methods=["GET", "POST", "DELETE"],
                           allow_headers=["Authorization", "X-API-Key", "Content-Type",
                                          "X-Request-ID", "traceparent", "tracestate"],
                           expose_headers=["X-Request-ID", "Retry-After", "Location"],
                           allow_credentials=False, max_age=600)
    app.add_middleware(RequestContext, metrics=app.state.metrics, redact=app.state.redact,
                       audit=partial(write_audit, engine))
    return app

"""The FastAPI application: settings in, app out. Routers live in ``api/routes/``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from functools import partial

from fastapi import FastAPI

from api import errors
from api.metrics import HttpMetrics
from api.middleware import BodySizeLimit, RequestContext
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
from storage.audit import write_audit
from storage.db import make_engine
from storage.partitions import maintain_partitions

log = logging.getLogger(__name__)
DAY = 24 * 3600.0


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


def create_app(settings: Settings) -> FastAPI:
    app = FastAPI(title="driftline", version="0.1.0", lifespan=lifespan,
                  description="Drift, performance and security history of models in production.")
    key = settings.security.hmac_key.get_secret_value().encode() if settings.security.hmac_key else None
    app.state.settings = settings
    app.state.engine = make_engine(settings.database_url, pool_size=settings.database.pool_size)
    app.state.limiter = TokenBuckets(settings.api.rate_limit_per_minute, settings.api.rate_limit_burst)
    app.state.metrics = HttpMetrics()
    app.state.redact = partial(hash_pii, fields=settings.security.pii_fields, key=key)
    app.state.publisher = EventPublisher(settings.kafka,
                                         timeout=settings.api.publish_timeout_seconds)

    for module in (health, drift, performance, analytics, redteam, retrain, promotions, export,
                   audit, keys, metrics):
        app.include_router(module.router)
    app.include_router(ui_router)  # the model pages (HTML), after the JSON routes
    errors.install(app)
    # added last = outermost: the request id exists before the size check answers
    app.add_middleware(BodySizeLimit, max_bytes=settings.api.max_request_bytes,
                       max_upload_bytes=settings.api.max_upload_bytes)
    app.add_middleware(RequestContext, metrics=app.state.metrics, redact=app.state.redact,
                       audit=partial(write_audit, app.state.engine))
    return app

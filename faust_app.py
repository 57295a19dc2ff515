"""The one faust application, built from settings.

Agents, tables and topics live in their packages and are found by autodiscovery when a
worker starts (``driftline worker``).
"""

from __future__ import annotations

import faust
from sqlalchemy import Engine

from settings import Settings, get_settings
from storage.db import shared_engine
from storage.pii import policy_for
from streams.admin import client_options
from streams.dropped import App


def _credentials(settings: Settings) -> faust.types.auth.CredentialsT | None:
    """The TLS/SASL of :func:`streams.admin.client_options`, as faust wants them."""
    options = client_options(settings.kafka)
    context = options.get("ssl_context")
    if "sasl_mechanism" in options:
        return faust.SASLCredentials(
            username=options["sasl_plain_username"] or "",
            password=options["sasl_plain_password"] or "",
            ssl_context=context,
            mechanism=options["sasl_mechanism"],
        )
    if context is not None:
        return faust.SSLCredentials(context)
    return None


def create_app(settings: Settings) -> faust.App:
    (settings.state_dir / "faust").mkdir(parents=True, exist_ok=True)
    # streams.dropped.App: a rebalance does not wait for events it cleared from buffers
    return App(
        settings.app_id,
        broker=settings.kafka.broker,
        broker_credentials=_credentials(settings),
        store="memory://",
        datadir=str(settings.state_dir / "faust"),
        topic_partitions=settings.kafka.partitions,
        topic_replication_factor=settings.kafka.replication_factor,
        # At-least-once delivery; exactly-once effect comes from idempotent state updates
        # (source offsets kept in the table) and sinks keyed by event_id. See README.
        processing_guarantee="at_least_once",
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        broker_commit_interval=1.0,
        broker_session_timeout=settings.kafka.session_timeout_seconds,
        broker_heartbeat_interval=settings.kafka.heartbeat_seconds,
        consumer_max_fetch_size=settings.kafka.max_fetch_bytes_per_partition,
        stream_buffer_maxsize=settings.kafka.stream_buffer_size,
        autodiscover=["streams", "tables", "agents"],
        origin="faust_app",
        web_enabled=settings.web_enabled,
        web_bind=settings.web_bind,
        web_port=settings.web_port,
    )


settings = get_settings()
app = create_app(settings)


def database() -> Engine:
    """The worker's database engine (one pool for every agent), from the same settings; it
    pseudonymises the configured PII fields in every write (storage/pii.py)."""
    return shared_engine(settings.database_url, pool_size=settings.database.pool_size,
                         pii=policy_for(settings.security))

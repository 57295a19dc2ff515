"""The one faust application, built from settings.

Agents, tables and topics live in their packages and are found by autodiscovery when a
worker starts (``driftline worker``).
"""

from __future__ import annotations

import ssl

import faust

from settings import Settings, get_settings


def _credentials(settings: Settings) -> faust.types.auth.CredentialsT | None:
    kafka = settings.kafka
    context = None
    if kafka.security_protocol in ("SSL", "SASL_SSL"):
        context = ssl.create_default_context(
            cafile=str(kafka.ssl_cafile) if kafka.ssl_cafile else None
        )
    if kafka.security_protocol.startswith("SASL"):
        password = kafka.sasl_password.get_secret_value() if kafka.sasl_password else ""
        return faust.SASLCredentials(
            username=kafka.sasl_username or "",
            password=password,
            ssl_context=context,
            mechanism=kafka.sasl_mechanism or "PLAIN",
        )
    if context is not None:
        return faust.SSLCredentials(context)
    return None


def create_app(settings: Settings) -> faust.App:
    (settings.state_dir / "faust").mkdir(parents=True, exist_ok=True)
    return faust.App(
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
        autodiscover=["streams", "tables", "agents"],
        origin="faust_app",
        web_enabled=settings.web_enabled,
        web_bind=settings.web_bind,
        web_port=settings.web_port,
    )


settings = get_settings()
app = create_app(settings)

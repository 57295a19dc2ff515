"""Creating topics with explicit partition counts (the broker does not auto-create them)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aiokafka import errors
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from settings import KafkaSettings


def client_options(kafka: KafkaSettings) -> dict[str, Any]:
    """aiokafka connection options (security included) from settings."""
    import ssl

    options: dict[str, Any] = {
        "bootstrap_servers": kafka.bootstrap_servers,
        "security_protocol": kafka.security_protocol,
    }
    if kafka.security_protocol in ("SSL", "SASL_SSL"):
        options["ssl_context"] = ssl.create_default_context(
            cafile=str(kafka.ssl_cafile) if kafka.ssl_cafile else None)
    if kafka.security_protocol.startswith("SASL"):
        options["sasl_mechanism"] = kafka.sasl_mechanism or "PLAIN"
        options["sasl_plain_username"] = kafka.sasl_username
        options["sasl_plain_password"] = (
            kafka.sasl_password.get_secret_value() if kafka.sasl_password else None)
    return options


async def ensure_topics(kafka: KafkaSettings, names: Iterable[str]) -> list[str]:
    """Create the topics that do not exist yet; return the ones created."""
    admin = AIOKafkaAdminClient(**client_options(kafka), request_timeout_ms=15000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [n for n in dict.fromkeys(names) if n not in existing]
        if missing:
            try:
                await admin.create_topics([
                    NewTopic(name, kafka.partitions, kafka.replication_factor) for name in missing
                ])
            except TopicAlreadyExistsError:
                pass
        return missing
    finally:
        await admin.close()


def kafka_transient(exc: BaseException) -> bool:
    """A broker that is restarting, unreachable or has no leader yet; never a record that is
    too large (that is a bug of the sender, retrying cannot fix it)."""
    if isinstance(exc, errors.MessageSizeTooLargeError | errors.RecordTooLargeError):
        return False
    if isinstance(exc, errors.KafkaTimeoutError | errors.KafkaConnectionError
                  | errors.NodeNotReadyError | errors.RequestTimedOutError):
        return True
    if isinstance(exc, errors.KafkaError):
        return bool(getattr(exc, "retriable", False))
    cause = exc.__cause__ or exc.__context__
    return cause is not None and cause is not exc and kafka_transient(cause)

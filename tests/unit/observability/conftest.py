"""Fakes for the observability tests: faust-like events, and tracing into memory."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from observability import tracing
from settings import TracingSettings


@dataclass
class FakeMessage:
    topic: str
    offset: int
    headers: Any = None
    partition: int = 0
    key: bytes | None = b"m"
    value: bytes | None = b"{}"
    timestamp: float = field(default_factory=time.time)


@dataclass
class FakeEvent:
    message: FakeMessage


class CountingMessage(FakeMessage):
    """A message that counts how often its headers are read."""

    reads = 0

    def __getattribute__(self, name: str) -> Any:
        if name == "headers":
            type(self).reads += 1
        return super().__getattribute__(name)


@pytest.fixture
def spans():
    """Tracing on, exporting into memory; off again afterwards."""
    exporter = InMemorySpanExporter()
    tracing.configure(TracingSettings(enabled=True), component="test", exporter=exporter)
    yield exporter
    tracing.shutdown()


def events(topic: str, headers_list: list[Any]) -> list[FakeEvent]:
    return [FakeEvent(FakeMessage(topic=topic, offset=i, headers=h)) for i, h in enumerate(headers_list)]

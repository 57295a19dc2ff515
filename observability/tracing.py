"""OpenTelemetry tracing, off unless configured: when off, every helper here returns at once.

driftline keeps its own tracer provider (it never replaces the global one, so libraries that
bring their own OpenTelemetry set-up, MLflow's included, are left alone); context travels in
the standard ``opentelemetry.context``. Kafka headers carry it as W3C ``traceparent`` /
``tracestate`` (whatever ``OTEL_PROPAGATORS`` selects; trace context and baggage by default).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.propagators.textmap import Getter

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

    from settings import TracingSettings

SpanKind = trace.SpanKind
Status, StatusCode = trace.Status, trace.StatusCode
#: Kafka headers as faust and aiokafka hand them over: (name, bytes) pairs, or a mapping
Headers = Sequence[tuple[str, bytes]] | Mapping[str, bytes]
F = TypeVar("F", bound=Callable[..., Any])

_provider: TracerProvider | None = None
_tracer: trace.Tracer | None = None
#: one shared do-nothing context manager: tracing off costs a global read and this
NOTHING: contextlib.nullcontext[None] = contextlib.nullcontext()


def enabled() -> bool:
    return _tracer is not None


def configure(settings: TracingSettings, *, component: str,
              exporter: SpanExporter | None = None) -> bool:
    """Start tracing for this process if ``settings.enabled`` (returns whether it is on).

    ``exporter`` replaces the configured one and exports synchronously: tests pass an
    ``InMemorySpanExporter``. Calling it again replaces the previous set-up.
    """
    global _provider, _tracer
    shutdown()
    if not settings.enabled:
        return False
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    provider = TracerProvider(
        resource=Resource.create({"service.name": settings.service_name,
                                  "service.version": "0.1.0",
                                  "driftline.component": component}),
        sampler=ParentBased(TraceIdRatioBased(settings.sample_ratio)))
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    elif settings.exporter == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=settings.endpoint)))
    _provider = provider
    _tracer = provider.get_tracer("driftline")
    return True


def shutdown() -> None:
    """Export what is pending and turn tracing off."""
    global _provider, _tracer
    provider, _provider, _tracer = _provider, None, None
    if provider is not None:
        provider.shutdown()


# -- propagation ---------------------------------------------------------------------------
class _HeaderGetter(Getter[Headers]):
    def get(self, carrier: Headers, key: str) -> list[str] | None:
        if isinstance(carrier, Mapping):
            found = [carrier[k] for k in carrier if k.lower() == key]
        else:
            found = [v for k, v in carrier if k.lower() == key]
        return [v.decode("latin-1") if isinstance(v, bytes | bytearray) else str(v)
                for v in found if v is not None] or None

    def keys(self, carrier: Headers) -> list[str]:
        return list(carrier) if isinstance(carrier, Mapping) else [k for k, _ in carrier]


_GETTER = _HeaderGetter()


def extract(headers: Headers | None) -> Context | None:
    """The context a message's headers carry, or None when they carry no valid span."""
    if not headers:
        return None
    ctx = propagate.extract(headers, getter=_GETTER)
    return ctx if trace.get_current_span(ctx).get_span_context().is_valid else None


def carrier() -> dict[str, str]:
    """The current context as text headers (empty when tracing is off or no span is active)."""
    out: dict[str, str] = {}
    if _tracer is not None and trace.get_current_span().get_span_context().is_valid:
        propagate.inject(out)
    return out


def inject(headers: Headers | None) -> Any:
    """``headers`` plus the current context, as a list of (name, bytes); unchanged (the same
    object) when tracing is off or no span is active."""
    fields = carrier()
    if not fields:
        return headers
    pairs = list(headers.items()) if isinstance(headers, Mapping) else list(headers or ())
    pairs = [(k, v) for k, v in pairs if k.lower() not in fields]
    return pairs + [(k, v.encode("latin-1")) for k, v in fields.items()]


# -- spans ---------------------------------------------------------------------------------
@contextlib.contextmanager
def activate(ctx: Context | trace.Span | None) -> Iterator[None]:
    """Make ``ctx`` (a context or a span; None = no span) current for the block."""
    if isinstance(ctx, trace.Span):
        ctx = trace.set_span_in_context(ctx)
    token = otel_context.attach(ctx if ctx is not None else Context())
    try:
        yield
    finally:
        otel_context.detach(token)


def start_span(name: str, *, parent: Context | None = None, kind: SpanKind = SpanKind.INTERNAL,
               attributes: Mapping[str, Any] | None = None, root: bool = False) -> trace.Span | None:
    """A started span (the caller ends it), or None when tracing is off. ``root`` starts a
    new trace whatever is current."""
    if _tracer is None:
        return None
    return _tracer.start_span(name, context=Context() if root else parent, kind=kind,
                              attributes=dict(attributes) if attributes else None)


def span(name: str, *, kind: SpanKind = SpanKind.INTERNAL,
         attributes: Mapping[str, Any] | None = None) -> contextlib.AbstractContextManager[Any]:
    """A child span of the current context for the block (yields the span, or None when off)."""
    if _tracer is None:
        return NOTHING
    return _tracer.start_as_current_span(name, kind=kind,
                                         attributes=dict(attributes) if attributes else None)


def traced(name: str, kind: SpanKind = SpanKind.CLIENT) -> Callable[[F], F]:
    """Decorate a blocking call with a span (a flag check when tracing is off)."""

    def decorate(fun: F) -> F:
        @functools.wraps(fun)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if _tracer is None:
                return fun(*args, **kwargs)
            with _tracer.start_as_current_span(name, kind=kind):
                return fun(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def resume(fields: Mapping[str, str] | None) -> contextlib.AbstractContextManager[Any]:
    """Continue, for the block, a context saved earlier with :func:`carrier` (kept in state
    between a request and a later poll, say)."""
    if _tracer is None or not fields:
        return NOTHING
    return activate(propagate.extract(dict(fields)))


def add_event(name: str, attributes: Mapping[str, Any] | None = None) -> None:
    if _tracer is not None:
        trace.get_current_span().add_event(name, dict(attributes) if attributes else None)


def ids() -> tuple[str, str] | None:
    """(trace_id, span_id) in hex of the active span, if any — for log records."""
    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return None
    return format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")

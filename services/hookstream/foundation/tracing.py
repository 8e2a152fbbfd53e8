"""Traces (OpenTelemetry): one trace per message, from its accept to its last delivery attempt.

A message's trace is ``accept`` (the API request that took it) -> ``route``
(the router's fan-out) -> one ``deliver`` per attempt (each with the measured
phases of its request as child spans), a retry's ``deliver`` the child of the
attempt that asked for it. The context crosses Kafka in each record's
``traceparent``/``tracestate`` headers (W3C Trace Context), beside the
``hookstream-outcome`` header: the API writes them on ``MessageAccepted``, the
router on each ``DeliveryTask``, the worker on each ``AttemptFinished``, and the
scheduler copies them from an attempt to the retry task it writes.

Off unless an OTLP endpoint is configured through the standard variables
(``OTEL_EXPORTER_OTLP_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) and
``OTEL_SDK_DISABLED`` is not ``true``: then :func:`setup` installs the SDK with
a batching OTLP/HTTP exporter (every other ``OTEL_*`` variable applies as the
SDK reads it). Off, nothing is installed and every hop reads one boolean,
:data:`ENABLED`, before building anything: no span, no header, no context.

The header helpers take and give ``(name, value)`` pairs, as Kafka headers
and aiohttp's ``headers.items()`` are, values as ``bytes`` or ``str``, so
any writer of a new hop (an intake reading another system's records, say)
parents its span with ``span(name, parent=its_headers)`` and writes
``current_headers()`` (or ``headers_of(span)``) beside its record.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

__all__ = [
    "ENABLED", "SpanKind", "add_phases", "context_of", "current_headers", "current_span", "headers_of",
    "http_headers", "install", "message_attributes", "parent_from", "setup", "shutdown", "span", "trace_headers",
]  # fmt: skip

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
TRACE_HEADERS = frozenset({TRACEPARENT, TRACESTATE})

ENABLED = False
"""Whether spans are made: read (as ``tracing.ENABLED``) before any tracing work on a hot path."""

_tracer: Tracer | None = None
_provider: Any = None
_propagator = TraceContextTextMapPropagator()

Headers = Iterable[tuple[str, bytes | str]]
Phase = tuple[str, int, int]
"""A measured phase of a request: its name and its start and end in ``time.perf_counter_ns``."""


# --- switching on and off ---------------------------------------------------------


def configured(env: Mapping[str, str]) -> bool:
    """Whether the standard variables ask for traces: an OTLP endpoint named, and the SDK not disabled."""
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    return bool(env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
                or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip())  # fmt: skip


def service_name(roles: Sequence[str], env: Mapping[str, str]) -> str:
    """``OTEL_SERVICE_NAME`` if set, else ``hookstream-<roles>`` (the roles this process runs, joined by ``-``)."""
    return env.get("OTEL_SERVICE_NAME", "").strip() or "-".join(("hookstream", *roles))


def setup(roles: Sequence[str], env: Mapping[str, str] | None = None) -> bool:
    """Install the SDK exporting over OTLP/HTTP when :func:`configured`; True if it did. Call :func:`shutdown` at exit.

    The SDK is imported only here, so a process without traces never loads it.
    """
    env = os.environ if env is None else env
    if not configured(env):
        return False
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service_name(roles, env)}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    install(provider)
    return True


def install(provider: Any) -> None:
    """Trace through ``provider`` (an SDK ``TracerProvider``); tests install one with an in-memory exporter.

    The provider is this module's, not OpenTelemetry's global one, which can be set only once per process.
    """
    global ENABLED, _tracer, _provider
    _provider = provider
    _tracer = provider.get_tracer("hookstream")
    ENABLED = True


def shutdown() -> None:
    """Export what is batched and switch off; harmless when off."""
    global ENABLED, _tracer, _provider
    provider, _provider, _tracer, ENABLED = _provider, None, None, False
    if provider is not None:
        provider.shutdown()


# --- headers: pure ---------------------------------------------------------------


def _text(value: bytes | str) -> str:
    return value.decode("latin-1") if isinstance(value, bytes | bytearray) else value


def context_of(headers: Headers | None) -> otel_context.Context:
    """The context that ``headers`` carry (Kafka's or HTTP's); an empty one (a new trace) when they carry none.

    A malformed ``traceparent`` counts as none, as W3C Trace Context says.
    """
    carrier = {name.lower(): _text(value) for name, value in headers or () if name.lower() in TRACE_HEADERS}
    return _propagator.extract(carrier, context=otel_context.Context())


def headers_of(span: Span) -> list[tuple[str, bytes]]:
    """``span``'s context as Kafka headers (``traceparent``, and ``tracestate`` when there is one)."""
    carrier: dict[str, str] = {}
    _propagator.inject(carrier, context=trace.set_span_in_context(span))
    return [(name, value.encode()) for name, value in carrier.items()]


def trace_headers(headers: Headers | None) -> list[tuple[str, bytes]]:
    """The trace headers among ``headers``, as they are: what a hop that makes no span of its own forwards."""
    return [(name, value if isinstance(value, bytes) else value.encode())
            for name, value in headers or () if name.lower() in TRACE_HEADERS]  # fmt: skip


def message_attributes(record: Mapping[str, Any]) -> dict[str, Any]:
    """What every span of one message says about it (a MessageAccepted's, or a DeliveryTask's)."""
    return {"hookstream.msg_id": record["msg_id"], "hookstream.app_id": record["app_id"],
            "hookstream.event_type": record["event_type"]}  # fmt: skip


# --- spans (callers check ENABLED first) --------------------------------------------


@contextlib.contextmanager
def span(
    name: str,
    *,
    parent: Headers | None = None,
    kind: SpanKind = SpanKind.INTERNAL,
    attributes: Mapping[str, Any] | None = None,
) -> Iterator[Span]:
    """A span, current while the block runs; its parent is the context ``parent`` headers carry, or (None) the
    current span. Only while :data:`ENABLED`."""
    assert _tracer is not None, "tracing.span while tracing is off: check tracing.ENABLED first"
    context = context_of(parent) if parent is not None else None
    with _tracer.start_as_current_span(name, context=context, kind=kind, attributes=attributes) as made:
        yield made


@contextlib.contextmanager
def parent_from(headers: Headers) -> Iterator[None]:
    """Make the context ``headers`` carry current while the block runs (an HTTP request's ``traceparent``);
    does nothing while tracing is off."""
    if not ENABLED:
        yield
        return
    token = otel_context.attach(context_of(headers))
    try:
        yield
    finally:
        otel_context.detach(token)


def current_span() -> Span:
    """The current span (a non-recording one when there is none)."""
    return trace.get_current_span()


def http_headers() -> dict[str, str]:
    """The current context as HTTP headers (empty while off, or when there is no context to carry)."""
    carrier: dict[str, str] = {}
    if ENABLED:
        _propagator.inject(carrier)
    return carrier


def current_headers() -> list[tuple[str, bytes]] | None:
    """The current context as Kafka headers; None while off, or when there is no context to carry."""
    if not ENABLED:
        return None
    return [(name, value.encode()) for name, value in http_headers().items()] or None


def add_phases(parent: Span, phases: Iterable[Phase]) -> None:
    """One child span of ``parent`` per measured phase, at the phase's own start and end.

    The phases are read on the monotonic clock; spans take wall-clock nanoseconds, so each is moved by the
    two clocks' difference read now (the same for all, so the phases keep their exact lengths and order).
    """
    assert _tracer is not None
    shift = time.time_ns() - time.perf_counter_ns()
    context = trace.set_span_in_context(parent)
    for name, start, end in phases:
        child = _tracer.start_span(name, context=context, start_time=start + shift)
        child.end(end_time=end + shift)

"""Traces: when they are on, and how a trace's context travels in headers (Kafka's and HTTP's)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import (
    INVALID_SPAN_CONTEXT,
    NonRecordingSpan,
    SpanContext,
    TraceFlags,
    TraceState,
    get_current_span,
    set_span_in_context,
)

from hookstream.delivery.timing import RequestTrace, phases_of
from hookstream.foundation import tracing
from tests.support.tracing import in_memory_spans

PARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    with in_memory_spans() as exporter:
        yield exporter


def test_on_only_with_an_endpoint_and_the_sdk_not_disabled() -> None:
    assert not tracing.configured({})
    assert tracing.configured({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"})
    assert tracing.configured({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"})
    assert not tracing.configured({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x", "OTEL_SDK_DISABLED": "TRUE"})
    assert tracing.configured({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x", "OTEL_SDK_DISABLED": "false"})
    assert not tracing.configured({"OTEL_EXPORTER_OTLP_ENDPOINT": "  "})


def test_off_installs_nothing_and_carries_nothing() -> None:
    assert not tracing.setup(("router",), {})
    assert not tracing.ENABLED
    assert tracing.current_headers() is None
    assert tracing.http_headers() == {}
    with tracing.parent_from([("traceparent", PARENT)]):
        assert get_current_span() is not None and not get_current_span().get_span_context().is_valid


def test_service_name_is_the_roles_unless_named() -> None:
    assert tracing.service_name(("router", "deliver"), {}) == "hookstream-router-deliver"
    assert tracing.service_name(("api",), {"OTEL_SERVICE_NAME": "edge"}) == "edge"


def test_context_round_trips_through_kafka_headers_with_its_state() -> None:
    state = TraceState([("vendor", "x1")])
    context = SpanContext(0x0AF7651916CD43DD8448EB211C80319C, 0xB7AD6B7169203331, True, TraceFlags(1), state)
    headers = tracing.headers_of(NonRecordingSpan(context))
    assert headers == [("traceparent", PARENT.encode()), ("tracestate", b"vendor=x1")]
    carried = get_current_span(tracing.context_of(headers)).get_span_context()
    assert (carried.trace_id, carried.span_id, carried.is_remote) == (context.trace_id, context.span_id, True)
    assert carried.trace_state == state


def test_http_headers_of_any_case_and_str_values_are_read() -> None:
    carried = get_current_span(tracing.context_of([("TraceParent", PARENT), ("X-Other", "1")])).get_span_context()
    assert carried.trace_id == 0x0AF7651916CD43DD8448EB211C80319C


@pytest.mark.parametrize(
    "headers",
    [
        [],
        None,
        [("traceparent", b"garbage")],
        [("traceparent", b"00-00000000000000000000000000000000-b7ad6b7169203331-01")],  # an all-zero trace id
        [("traceparent", b"\xff\xfe")],
        [("hookstream-outcome", b'["s1"]')],
    ],
)
def test_no_or_malformed_context_starts_a_new_trace(headers: list[tuple[str, bytes]] | None) -> None:
    assert get_current_span(tracing.context_of(headers)).get_span_context() == INVALID_SPAN_CONTEXT


def test_trace_headers_are_forwarded_as_they_are_and_nothing_else() -> None:
    headers = [("hookstream-outcome", b"[]"), ("traceparent", PARENT.encode()), ("tracestate", "a=b")]
    assert tracing.trace_headers(headers) == [("traceparent", PARENT.encode()), ("tracestate", b"a=b")]
    assert tracing.trace_headers(None) == []


def test_a_span_parents_on_the_headers_it_is_given_and_its_children_on_it(spans: InMemorySpanExporter) -> None:
    with tracing.span("route", parent=[("traceparent", PARENT.encode())], attributes={"a": 1}) as route:
        headers = tracing.current_headers()
        assert headers == tracing.headers_of(route)
    with tracing.span("deliver", parent=headers):
        pass
    with tracing.span("orphan", parent=[]):
        pass
    deliver, orphan, route_span = sorted(spans.get_finished_spans(), key=lambda s: s.name)
    assert route_span.parent is not None and route_span.parent.span_id == 0xB7AD6B7169203331
    assert route_span.context.trace_id == 0x0AF7651916CD43DD8448EB211C80319C == deliver.context.trace_id
    assert deliver.parent is not None and deliver.parent.span_id == route_span.context.span_id
    assert orphan.parent is None and orphan.context.trace_id != route_span.context.trace_id


def test_a_request_traceparent_parents_the_spans_of_its_request(spans: InMemorySpanExporter) -> None:
    with tracing.parent_from([("traceparent", PARENT)]), tracing.span("accept"):
        pass
    (accept,) = spans.get_finished_spans()
    assert accept.parent is not None and accept.parent.span_id == 0xB7AD6B7169203331


def test_phases_become_child_spans_at_their_measured_moments(spans: InMemorySpanExporter) -> None:
    start = time.perf_counter_ns()
    trace = RequestTrace(start=start, dns_start=start + 1_000, dns_end=start + 2_000, tcp_start=start + 2_000,
                         tcp_end=start + 5_000, sent=start + 6_000, response_at=start + 9_000,
                         body_done=start + 9_500)  # fmt: skip
    phases = phases_of(trace, start + 10_000)
    assert [name for name, *_ in phases] == ["dns", "connect", "ttfb", "transfer"]  # no TLS over http
    with tracing.span("deliver") as deliver:
        tracing.add_phases(deliver, phases)
    children = {s.name: s for s in spans.get_finished_spans() if s.name != "deliver"}
    assert {name: s.end_time - s.start_time for name, s in children.items()} == {
        "dns": 1_000, "connect": 3_000, "ttfb": 3_000, "transfer": 500}  # fmt: skip
    assert children["dns"].end_time <= children["connect"].start_time < children["ttfb"].start_time
    assert all(s.parent is not None and s.parent.span_id == deliver.get_span_context().span_id
               for s in children.values())  # fmt: skip


def test_a_reused_connection_has_no_connect_or_tls_phase() -> None:
    trace = RequestTrace(start=0, reused=True, tcp_start=1, tcp_end=2, tls_end=3, sent=4, response_at=5)
    assert [name for name, *_ in phases_of(trace, 9)] == ["ttfb", "transfer"]


def test_current_span_is_the_one_in_the_context() -> None:
    span = NonRecordingSpan(SpanContext(1, 2, False))
    assert get_current_span(set_span_in_context(span)) is span

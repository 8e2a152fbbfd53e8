"""Traces: one connected trace per message, HTTP in to the last attempt, in one process and across processes.

Each message is sent over the API (one with a producer's ``traceparent``) to
an endpoint whose receiver fails every message's first attempt, so each
trace holds ``accept`` -> ``route`` -> ``deliver`` (attempt 1, 500) ->
``deliver`` (attempt 2, 200), the retry having passed through the scheduler
and its delay tier. In process, the spans are read from the SDK's in-memory
exporter; across processes (``hookstream run``: the API, a delivery process
with the router and the worker, a stream process with the scheduler), from
an OTLP/HTTP receiver in the test that decodes what the exporters send.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiokafka import AIOKafkaProducer
from clickhouse_connect.driver import Client
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from hookstream.domain.ids import IdKind, to_svix
from hookstream.foundation.secrets import new_key_text
from hookstream.foundation.settings import Settings
from hookstream.log.topics import INTAKE, TopicNames
from hookstream.runtime.local_kafka import free_port
from hookstream.runtime.roles import ALL_ROLES
from tests.conftest import ReceiverFactory
from tests.support.receivers import Received, Reply
from tests.support.svix_api import ServedApi
from tests.support.tracing import in_memory_spans

pytestmark = pytest.mark.e2e

MESSAGES = 3
PRODUCER_TRACE = 0x4BF92F3577B34DA6A3CE929D0E0E4736
PRODUCER_SPAN = 0x00F067AA0BA902B7
PRODUCER_PARENT = f"00-{PRODUCER_TRACE:032x}-{PRODUCER_SPAN:016x}-01"
TOKEN = "hs_op_tracesTestToken0123456789"
PHASES = {"dns", "connect", "tls", "ttfb", "transfer"}
SERVICES = Path(__file__).resolve().parents[2] / "services"
INHERITED = ("CLICKHOUSE_URL", "KAFKA_BOOTSTRAP_SERVERS")


@dataclass(frozen=True)
class SeenSpan:
    """A span as either source reports it."""

    name: str
    service: str
    trace_id: int
    span_id: int
    parent_id: int | None
    attributes: dict[str, Any]


def _first_fails() -> Any:
    """Each message's first request gets a 500, every later one a 200."""
    seen: set[str] = set()

    def behaviour(request: Received) -> Reply:
        webhook_id = request.headers["webhook-id"]
        if webhook_id in seen:
            return Reply(200)
        seen.add(webhook_id)
        return Reply(500, b"first attempt fails")

    return behaviour


async def _application(session: aiohttp.ClientSession, base: str, token: str, endpoint_url: str) -> str:
    """An application with one endpoint; its uid."""
    auth = {"Authorization": f"Bearer {token}"}
    app_uid = f"traces-{uuid.uuid4().hex[:8]}"
    async with session.post(f"{base}/api/v1/app/", json={"name": "traces", "uid": app_uid}, headers=auth) as resp:
        assert resp.status == 201, await resp.text()
    async with session.post(f"{base}/api/v1/app/{app_uid}/endpoint/", json={"url": endpoint_url},
                            headers=auth) as resp:  # fmt: skip
        assert resp.status == 201, await resp.text()
    return app_uid


async def _send_messages(session: aiohttp.ClientSession, base: str, token: str, endpoint_url: str) -> list[str]:
    """An application, an endpoint, then the messages (the first with a producer's traceparent); their ids."""
    auth = {"Authorization": f"Bearer {token}"}
    app_uid = await _application(session, base, token, endpoint_url)
    ids = []
    for index in range(MESSAGES):
        headers = auth | ({"traceparent": PRODUCER_PARENT} if index == 0 else {})
        body = {"eventType": "order.paid", "payload": {"n": index}}
        async with session.post(f"{base}/api/v1/app/{app_uid}/msg/", json=body, headers=headers) as resp:
            assert resp.status == 202, await resp.text()
            ids.append((await resp.json())["id"])
    return ids


def _check_traces(spans: list[SeenSpan], svix_ids: list[str], received: list[Received], *, apart: bool) -> None:
    """One trace per message, accept -> route -> deliver -> deliver (the retry), each hop the child of the last;
    ``apart``: accept was made by another service than route and deliver."""
    of_message: dict[str, list[SeenSpan]] = {}
    for span in spans:
        if "hookstream.msg_id" in span.attributes:
            of_message.setdefault(to_svix(IdKind.MESSAGE, uuid.UUID(span.attributes["hookstream.msg_id"])), []).append(
                span
            )
    assert sorted(of_message) == sorted(svix_ids), "every message traced, and nothing else"
    by_id = {span.span_id: span for span in spans}
    traces = set()
    for index, svix_id in enumerate(svix_ids):
        mine = of_message[svix_id]
        (trace_id,) = {span.trace_id for span in mine}  # exactly one trace per message
        traces.add(trace_id)
        (accept,) = [s for s in mine if s.name == "accept"]
        (route,) = [s for s in mine if s.name == "route"]
        first, retry = sorted((s for s in mine if s.name == "deliver"),
                              key=lambda s: s.attributes["hookstream.attempt_number"])  # fmt: skip
        assert len(mine) == 4, [s.name for s in mine]
        if index == 0:  # the producer's traceparent: its trace, under its span
            assert (trace_id, accept.parent_id) == (PRODUCER_TRACE, PRODUCER_SPAN)
        else:
            assert accept.parent_id is None
        assert route.parent_id == accept.span_id
        assert first.parent_id == route.span_id
        assert retry.parent_id == first.span_id  # the scheduler carried the attempt's context to its retry
        assert (first.attributes["hookstream.attempt_number"], retry.attributes["hookstream.attempt_number"]) == (1, 2)
        assert first.attributes["http.response.status_code"] == 500
        assert first.attributes["hookstream.status"] == "failed" and "hookstream.next_attempt_at" in first.attributes
        assert retry.attributes["http.response.status_code"] == 200
        assert retry.attributes["hookstream.status"] == "success"
        assert first.attributes["hookstream.endpoint_id"] == retry.attributes["hookstream.endpoint_id"]
        assert first.attributes["hookstream.attempt_id"] != retry.attributes["hookstream.attempt_id"]
        for deliver in (first, retry):  # the request's phases, children of the attempt, in its trace
            phases = [s for s in spans if s.parent_id == deliver.span_id and s.name != "deliver"]
            assert {"ttfb", "transfer"} <= {s.name for s in phases} <= PHASES
            assert {s.trace_id for s in phases} == {trace_id}
        if apart:
            assert accept.service == "hookstream-api"
            assert route.service == first.service == retry.service == "hookstream-intake-router-deliver"
        # the receiver was sent each attempt's own context (HOOKSTREAM_DELIVERY_PROPAGATE_TRACE)
        sent = sorted(r.headers["traceparent"][:52] for r in received if r.headers["webhook-id"] == svix_id)
        assert sent == sorted(f"00-{trace_id:032x}-{d.span_id:016x}" for d in (first, retry))  # flags apart
    assert len(traces) == MESSAGES
    assert all(span.parent_id is None or span.parent_id in by_id or span.parent_id == PRODUCER_SPAN for span in spans)


def _expected(spans: list[SeenSpan]) -> bool:
    names = [span.name for span in spans]
    return names.count("accept") >= MESSAGES and names.count("deliver") >= 2 * MESSAGES


# --- in one process: the SDK's in-memory exporter ------------------------------------------


@pytest.fixture
def api_settings(settings: Settings, topics: TopicNames, clickhouse: Client) -> Settings:
    return _traced_settings(settings)


def _traced_settings(settings: Settings) -> Settings:
    return settings.replace(
        secret_keys=new_key_text(), delivery_allowed_networks="127.0.0.1/32", retry_schedule="0s,1s",
        retry_jitter=0.0, delivery_propagate_trace=True, projector_batch_s=0.2,
    )  # fmt: skip


@pytest.fixture
def api_roles() -> tuple[str, ...]:
    return ALL_ROLES


@pytest.fixture
def in_memory() -> Iterator[InMemorySpanExporter]:
    with in_memory_spans() as exporter:
        yield exporter


async def test_one_trace_per_message_in_one_process(
    in_memory: InMemorySpanExporter, api: ServedApi, receivers: ReceiverFactory
) -> None:
    receiver = await receivers.plain(_first_fails())
    async with aiohttp.ClientSession() as session:
        ids = await _send_messages(session, api.url, api.token, receiver.url)
    received = await receiver.wait_for(2 * MESSAGES)
    deadline = time.monotonic() + 10  # the last attempt's span ends once its record is acknowledged
    while not _expected(spans := [_of_sdk(span) for span in in_memory.get_finished_spans()]):
        assert time.monotonic() < deadline, [span.name for span in spans]
        await asyncio.sleep(0.1)
    _check_traces(spans, ids, received, apart=False)


async def test_an_intake_record_continues_its_producers_trace(
    in_memory: InMemorySpanExporter, api: ServedApi, receivers: ReceiverFactory, settings: Settings, topics: TopicNames
) -> None:
    """A CloudEvent (binary mode) carrying the producer's ``traceparent``: intake's ``accept`` is its child, and
    the message's route and attempts follow in that trace as they do after an HTTP accept."""
    receiver = await receivers.plain(_first_fails())
    async with aiohttp.ClientSession() as session:
        app_uid = await _application(session, api.url, api.token, receiver.url)
    headers = [("ce_specversion", b"1.0"), ("ce_id", b"trace-1"), ("ce_source", b"/orders"),
               ("ce_type", b"order.paid"), ("ce_hookstreamapp", app_uid.encode()),
               ("content-type", b"application/json"), ("traceparent", PRODUCER_PARENT.encode())]  # fmt: skip
    upstream = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, acks="all")
    await upstream.start()
    try:
        await upstream.send_and_wait(topics(INTAKE), b'{"n": 0}', key=b"order-1", headers=headers)
    finally:
        await upstream.stop()
    received = await receiver.wait_for(2)
    deadline = time.monotonic() + 10
    while True:  # the retry's span ends once its record is acknowledged
        spans = [_of_sdk(span) for span in in_memory.get_finished_spans()]
        if [span.name for span in spans].count("deliver") >= 2:
            break
        assert time.monotonic() < deadline, [span.name for span in spans]
        await asyncio.sleep(0.1)
    mine = [span for span in spans if span.trace_id == PRODUCER_TRACE]
    (accept,) = [span for span in mine if span.name == "accept"]
    (route,) = [span for span in mine if span.name == "route"]
    first, retry = sorted(
        (s for s in mine if s.name == "deliver"), key=lambda s: s.attributes["hookstream.attempt_number"]
    )
    assert accept.parent_id == PRODUCER_SPAN and accept.attributes["hookstream.intake.format"] == "cloudevents_binary"
    assert (route.parent_id, first.parent_id, retry.parent_id) == (accept.span_id, route.span_id, first.span_id)
    msg_id = to_svix(IdKind.MESSAGE, uuid.UUID(accept.attributes["hookstream.msg_id"]))
    assert {request.headers["webhook-id"] for request in received} == {msg_id}
    assert {span.trace_id for span in spans if span.attributes.get("hookstream.msg_id") == str(uuid.UUID(
        accept.attributes["hookstream.msg_id"]))} == {PRODUCER_TRACE}  # fmt: skip


def _of_sdk(span: Any) -> SeenSpan:
    parent = span.parent.span_id if span.parent is not None else None
    service = span.resource.attributes.get("service.name", "")
    return SeenSpan(span.name, service, span.context.trace_id, span.context.span_id, parent, dict(span.attributes))


# --- across processes: OTLP/HTTP to a receiver in the test ------------------------------------


class OtlpReceiver:
    """What an OpenTelemetry collector's OTLP/HTTP receiver does, for traces: decode and keep every span."""

    def __init__(self) -> None:
        self.spans: list[SeenSpan] = []
        self.url = ""

    async def _traces(self, request: web.Request) -> web.Response:
        body = await request.read()
        if request.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        export = ExportTraceServiceRequest.FromString(body)
        for resource_spans in export.resource_spans:
            resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    parent = int.from_bytes(span.parent_span_id) if span.parent_span_id else None
                    attributes = {a.key: _value(a.value) for a in span.attributes}
                    self.spans.append(SeenSpan(span.name, resource.get("service.name", ""),
                                               int.from_bytes(span.trace_id), int.from_bytes(span.span_id), parent,
                                               attributes))  # fmt: skip
        answer = ExportTraceServiceResponse().SerializeToString()
        return web.Response(body=answer, content_type="application/x-protobuf")

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[OtlpReceiver]:
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_post("/v1/traces", self._traces)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            self.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
            yield self
        finally:
            await runner.cleanup()


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind is not None else None


async def _healthy(session: aiohttp.ClientSession, url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while True:
        assert process.poll() is None, f"hookstream run exited with {process.returncode}"
        with contextlib.suppress(aiohttp.ClientError, OSError):
            async with session.get(url) as response:
                if response.status == 200:
                    return
        assert time.monotonic() < deadline, f"{url} not healthy in 120 s"
        await asyncio.sleep(0.5)


async def test_one_trace_per_message_across_processes(
    settings: Settings, topics: TopicNames, clickhouse: Client, receivers: ReceiverFactory, tmp_path: Path
) -> None:
    traced = _traced_settings(settings)
    receiver = await receivers.plain(_first_fails())
    port = free_port()
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("HOOKSTREAM_", "OTEL_")) and name not in INHERITED}  # fmt: skip
    async with OtlpReceiver().serving() as otlp, aiohttp.ClientSession() as session:
        env.update(
            PYTHONPATH=str(SERVICES),
            KAFKA_BOOTSTRAP_SERVERS=traced.kafka_bootstrap_servers,
            CLICKHOUSE_URL=traced.clickhouse_url,
            HOOKSTREAM_CLICKHOUSE_DATABASE=traced.clickhouse_database,
            HOOKSTREAM_TOPIC_NAMESPACE=traced.topic_namespace,
            HOOKSTREAM_TOPIC_PARTITIONS=str(traced.topic_partitions),
            HOOKSTREAM_DATA_DIR=str(tmp_path / "data"),
            HOOKSTREAM_HTTP_PORT=str(port),
            HOOKSTREAM_OPERATOR_TOKEN=TOKEN,
            HOOKSTREAM_SECRET_KEYS=traced.secret_keys,
            HOOKSTREAM_DELIVERY_ALLOWED_NETWORKS=traced.delivery_allowed_networks,
            HOOKSTREAM_RETRY_SCHEDULE=traced.retry_schedule,
            HOOKSTREAM_RETRY_JITTER="0",
            HOOKSTREAM_DELIVERY_PROPAGATE_TRACE="true",
            HOOKSTREAM_DEV_DELIVERY_PROCESSES="1",  # the API here, the router and worker in a delivery process
            OTEL_EXPORTER_OTLP_ENDPOINT=otlp.url,
            OTEL_BSP_SCHEDULE_DELAY="100",
        )
        with (tmp_path / "run.log").open("wb") as log:
            command = [sys.executable, "-m", "hookstream.cli", "run"]
            process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)  # noqa: ASYNC220
        try:
            base = f"http://127.0.0.1:{port}"
            await _healthy(session, f"{base}/health", process)
            ids = await _send_messages(session, base, TOKEN, receiver.url)
            received = await receiver.wait_for(2 * MESSAGES)
            deadline = time.monotonic() + 20
            while not _expected(otlp.spans):
                assert time.monotonic() < deadline, [(s.service, s.name) for s in otlp.spans]
                await asyncio.sleep(0.2)
            process.send_signal(signal.SIGTERM)
            assert await asyncio.to_thread(process.wait, 60) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=30)
    text = (tmp_path / "run.log").read_text()
    assert "Traceback" not in text, text[-3000:]
    _check_traces(otlp.spans, ids, received, apart=True)

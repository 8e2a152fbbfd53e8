"""The API served in-process on 127.0.0.1:0, and the official svix SDK pointed at it."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
from aiohttp import web
from aiokafka import AIOKafkaConsumer, TopicPartition
from svix.api import SvixAsync, SvixOptions
from svix.exceptions import HttpError, HTTPValidationError

from hookstream.api.app import build_app
from hookstream.api.context import ApiContext
from hookstream.foundation.ops import Metrics
from hookstream.foundation.settings import Settings
from hookstream.log.codec import AvroCodec
from hookstream.runtime.api import running_api
from hookstream.runtime.http_server import ApiRunner
from tests.support.openapi import OpenApiDocument

TOKEN = "hs_op_test-operator-token"
T = TypeVar("T")
Seen = tuple[str, str, int, Any]  # method, path, status, JSON body (None: no JSON body)


def _recorder(seen: list[Seen]) -> Callable[[httpx.Response], Awaitable[None]]:
    async def record(response: httpx.Response) -> None:
        await response.aread()
        is_json = response.headers.get("content-type", "").startswith("application/json") and response.content
        seen.append((response.request.method, response.request.url.path, response.status_code,
                     response.json() if is_json else None))  # fmt: skip

    return record


def _template(doc: OpenApiDocument, method: str, path: str) -> str:
    """The document's path template a concrete path (with or without its trailing slash) is an instance of."""
    candidates = [t for t, ops in doc.doc["paths"].items() if method.lower() in ops
                  and re.fullmatch(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(t)) + "/?", path)]  # fmt: skip
    assert candidates, f"{method} {path} matches no documented operation"
    return min(candidates, key=lambda t: t.count("{"))  # a literal segment beats a parameter


@dataclass
class ServedApi:
    url: str
    token: str
    ctx: ApiContext
    svix: SvixAsync
    others: list[SvixAsync] = field(default_factory=list)
    http_app: web.Application | None = None  # what is served, for tests that walk its routes
    responses: list[Seen] = field(default_factory=list)  # every answer any SDK client of this API received
    http_clients: list[httpx.AsyncClient] = field(default_factory=list)

    def recording_client(self) -> httpx.AsyncClient:
        """An httpx client for another dialect's SDK (e.g. Outpost's) whose answers are recorded too."""
        client = httpx.AsyncClient(event_hooks={"response": [_recorder(self.responses)]})
        self.http_clients.append(client)
        return client

    def client(self, token: str) -> SvixAsync:
        """Another SDK client (e.g. with a wrong token); closed with the API."""
        client = SvixAsync(token, SvixOptions(server_url=self.url, retry_schedule=[]))
        client._httpx_client.event_hooks["response"].append(_recorder(self.responses))
        self.others.append(client)
        return client

    def check_responses(self, doc: OpenApiDocument) -> int:
        """Every answer the SDK clients received, against the document's schema for its operation and status."""
        for method, path, status, body in self.responses:
            doc.check(_template(doc, method, path), method, status, body)
        return len(self.responses)


@contextlib.asynccontextmanager
async def served_api(settings: Settings, token: str = TOKEN) -> AsyncIterator[ServedApi]:
    """``running_api`` behind a real HTTP server; the SDK does not retry, so every status is seen as sent."""
    async with running_api(settings, token) as ctx:

        async def healthy() -> None:
            return None

        http_app = build_app({"kafka": healthy}, Metrics(), ctx)
        runner = ApiRunner(http_app, access_log=None)  # what `hookstream dev` serves with
        await runner.setup()
        try:
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            url = f"http://127.0.0.1:{runner.addresses[0][1]}"
            client = SvixAsync(token, SvixOptions(server_url=url, retry_schedule=[]))
            served = ServedApi(url, token, ctx, client, http_app=http_app)
            client._httpx_client.event_hooks["response"].append(_recorder(served.responses))
            try:
                yield served
            finally:
                for sdk in (client, *served.others):
                    await sdk._httpx_client.aclose()
                for other in served.http_clients:
                    await other.aclose()
        finally:
            await runner.cleanup()


async def events_on_log(settings: Settings, topic: str) -> list[tuple[str, dict[str, Any]]]:
    """Every event on ``topic`` (full name) from its beginning to its current end: what the API wrote."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer.topics()
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        codec, found = AvroCodec(), []
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            for tp, records in (await consumer.getmany(timeout_ms=500)).items():
                found += [codec.decode(r.value) for r in records if r.value is not None and r.offset < ends[tp]]
        return found
    finally:
        await consumer.stop()


async def status_of(call: Awaitable[Any]) -> int:
    """The HTTP status an SDK call ended with: 200 when it returned, the error's status when it raised."""
    try:
        await call
    except (HttpError, HTTPValidationError) as error:
        return error.status_code
    return 200


async def eventually(read: Callable[[], Awaitable[T]], ok: Callable[[T], bool], timeout_s: float = 30) -> T:
    """Read until ``ok`` holds (projected data lags the API), failing with the last value after the timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = await read()
        if ok(value) or time.monotonic() > deadline:
            assert ok(value), f"not within {timeout_s} s: {value!r}"
            return value
        await asyncio.sleep(0.1)

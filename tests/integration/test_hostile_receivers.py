"""Hostile receivers against the real delivery worker: each attempt ends in time, named; the worker stays bounded.

tests/integration/test_delivery_client.py checks the HTTP client alone (a
hanging receiver, a redirect, an untrusted certificate, a body over the
cap); this file runs them together through the worker on the real broker,
adds the ones a client test cannot see (a trickled response, 100 MB, an
expired certificate, a connection closed mid-response), measures the
worker's memory while the 100 MB receiver is hit, and measures a healthy
endpoint's delivery latency with and without the hostile ones. Redirects are
never followed: a 3xx is recorded as a failed attempt (see domain/classify.py).

The raw receivers are asyncio servers on 127.0.0.1 that speak just enough
HTTP to misbehave at a chosen byte.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from hookstream.delivery.metrics import DeliveryMetrics
from hookstream.delivery.worker import DeliveryWorker
from hookstream.foundation.secrets import SecretBox, new_key_text, parse_keys
from hookstream.foundation.settings import Settings
from hookstream.log.producer import EventProducer
from hookstream.log.topics import ATTEMPTS, CONFIG, TASKS, TopicNames
from tests.conftest import ReceiverFactory
from tests.support import builders
from tests.support.log import covering, read_topic, send_all
from tests.support.receivers import Received, ReceiverCA, Reply

pytestmark = pytest.mark.integration

TIMEOUT_S = 2.0
HUGE = 100 * 1024 * 1024
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _read_request(reader: asyncio.StreamReader) -> None:
    head = await reader.readuntil(b"\r\n\r\n")
    lengths = [line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")]
    await reader.readexactly(int(lengths[0]) if lengths else 0)


class RawReceiver:
    """A TCP server on 127.0.0.1 whose handler writes whatever bytes it likes; counts bytes it sent."""

    def __init__(self, handler: Callable[[RawReceiver, asyncio.StreamWriter], Awaitable[None]]) -> None:
        self._handler = handler
        self.sent = 0
        self.requests = 0
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[Any]] = set()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        # Cancelled when the server closes under a handler that never answers: the connection just ends.
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            await _read_request(reader)
            self.requests += 1
            await self._handler(self, writer)
        writer.close()
        self._handlers.discard(task)

    async def write(self, writer: asyncio.StreamWriter, data: bytes) -> None:
        writer.write(data)
        await writer.drain()
        self.sent += len(data)

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}/hook"

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[RawReceiver]:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        try:
            yield self
        finally:
            self._server.close()
            for handler in list(self._handlers):  # a handler that never answers would hold the server open
                handler.cancel()
            await self._server.wait_closed()


async def never_answers(rx: RawReceiver, writer: asyncio.StreamWriter) -> None:
    await asyncio.sleep(3600)


async def trickles(rx: RawReceiver, writer: asyncio.StreamWriter) -> None:
    for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok":
        await rx.write(writer, bytes([byte]))
        await asyncio.sleep(1.0)


async def sends_100_mb(rx: RawReceiver, writer: asyncio.StreamWriter) -> None:
    await rx.write(
        writer, b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n" % HUGE
    )
    chunk = b"x" * (256 * 1024)
    for _ in range(HUGE // len(chunk)):
        await rx.write(writer, chunk)


async def closes_mid_response(rx: RawReceiver, writer: asyncio.StreamWriter) -> None:
    await rx.write(writer, b"HTTP/1.1 20")


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/self/status")


@contextlib.asynccontextmanager
async def peak_rss() -> AsyncIterator[dict[str, float]]:
    """This process's RSS before the block and its peak during it, sampled every 20 ms."""
    figures = {"before_mb": _rss_mb(), "peak_mb": _rss_mb()}

    async def sample() -> None:
        while True:
            figures["peak_mb"] = max(figures["peak_mb"], _rss_mb())
            await asyncio.sleep(0.02)

    sampler = asyncio.create_task(sample())
    try:
        yield figures
    finally:
        sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampler


@pytest.fixture
def hostile_settings(settings: Settings) -> Settings:
    return settings.replace(
        secret_keys=new_key_text(), delivery_allowed_networks="127.0.0.0/8", delivery_timeout_s=TIMEOUT_S
    )


async def _healthy_latencies(
    producer: EventProducer, topics: TopicNames, endpoint: dict[str, Any], arrivals: list[Received], count: int
) -> list[float]:
    """Send ``count`` tasks to the healthy endpoint one by one; seconds from each send to its arrival."""
    latencies = []
    for n in range(count):
        task = builders.delivery_task(endpoint, n=n)
        seen = len(arrivals)
        sent = time.time()
        await send_all(producer, topics(TASKS), "DeliveryTask", [task], "endpoint_id")
        deadline = time.monotonic() + 30
        while len(arrivals) == seen:
            assert time.monotonic() < deadline, "the healthy endpoint got nothing in 30 s"
            await asyncio.sleep(0.005)
        latencies.append(arrivals[seen].at - sent)
    return latencies


async def test_hostile_receivers_end_in_time_with_the_right_class_and_bounded_memory(
    hostile_settings: Settings,
    topics: TopicNames,
    producer: EventProducer,
    receivers: ReceiverFactory,
    test_ca: ReceiverCA,
) -> None:
    settings = hostile_settings
    box = SecretBox(parse_keys(settings.secret_keys))
    secret = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    app_id = builders.application()["app_id"]

    healthy = await receivers.plain()
    looping = await receivers.plain(lambda _: Reply(307, b"", {"Location": looping.url}))
    expired_ca = ReceiverCA()
    expired_ca.cert = test_ca.ca.issue_cert(
        "localhost", "127.0.0.1", not_before=datetime.now(UTC) - timedelta(days=30),
        not_after=datetime.now(UTC) - timedelta(days=1),
    )  # fmt: skip
    expired = await receivers.tls(ca=expired_ca)
    self_signed = await receivers.tls(ca=ReceiverCA())  # a CA the worker does not trust

    async with contextlib.AsyncExitStack() as stack:
        raws = {name: await stack.enter_async_context(RawReceiver(handler).running()) for name, handler in
                [("never", never_answers), ("trickle", trickles), ("huge", sends_100_mb),
                 ("closes", closes_mid_response)]}  # fmt: skip
        urls = {name: raw.url for name, raw in raws.items()}
        urls |= {"redirect_loop": looping.url, "expired_cert": expired.url, "self_signed": self_signed.url}
        endpoints = {name: builders.endpoint(app_id, url, box=box, secrets=[secret]) for name, url in urls.items()}
        ep_healthy = builders.endpoint(app_id, healthy.url, box=box, secrets=[secret])
        await send_all(producer, topics(CONFIG), "EndpointUpserted", [ep_healthy, *endpoints.values()], "endpoint_id")

        worker = DeliveryWorker(settings, DeliveryMetrics(CollectorRegistry()), ssl=test_ca.client_context())
        await worker.start()
        try:
            await _healthy_latencies(producer, topics, ep_healthy, healthy.received, 3)  # warm up
            alone = await _healthy_latencies(producer, topics, ep_healthy, healthy.received, 20)

            hostile_tasks = [builders.delivery_task(ep, n=i) for i in range(3) for ep in endpoints.values()]
            async with peak_rss() as rss:
                await send_all(producer, topics(TASKS), "DeliveryTask", hostile_tasks, "endpoint_id")
                beside = await _healthy_latencies(producer, topics, ep_healthy, healthy.received, 20)
                wanted = {t["msg_id"] for t in hostile_tasks}
                events = await read_topic(settings, producer, topics(ATTEMPTS), covering(wanted), settle_s=0.5)
        finally:
            await worker.stop()

    by_endpoint: dict[str, list[dict[str, Any]]] = {name: [] for name in endpoints}
    names = {ep["endpoint_id"]: name for name, ep in endpoints.items()}
    for event in events:
        if event.record["msg_id"] in wanted:
            by_endpoint[names[event.record["endpoint_id"]]].append(event.record)
    expected = {
        "never": ("failed", "timeout"), "trickle": ("failed", "timeout"), "huge": ("success", None),
        "closes": ("failed", "invalid_response"), "redirect_loop": ("failed", "http_status"),
        "expired_cert": ("failed", "tls"), "self_signed": ("failed", "tls"),
    }  # fmt: skip
    for name, records in by_endpoint.items():
        assert len(records) == 3, (name, records)
        for record in records:
            assert (record["status"], record["error_class"]) == expected[name], (name, record["error_text"])
            assert record["total_us"] <= (TIMEOUT_S + 0.5) * 1e6, (name, record["total_us"])
    assert {r["response_status"] for r in by_endpoint["redirect_loop"]} == {307}
    assert len(looping.received) == 3, "a redirect was followed"
    assert "expired" in by_endpoint["expired_cert"][0]["error_text"]
    for record in by_endpoint["huge"]:
        assert (
            record["response_body_truncated"] and len(record["response_body"]) == settings.delivery_max_response_bytes
        )
    assert raws["huge"].sent < HUGE // 4, f"the worker downloaded {raws['huge'].sent} bytes of a 100 MB answer"

    growth = rss["peak_mb"] - rss["before_mb"]
    ratio = statistics.median(beside) / statistics.median(alone)
    print(
        f"\nhostile receivers: RSS {rss['before_mb']:.0f} MB -> peak {rss['peak_mb']:.0f} MB (+{growth:.1f} MB); "
        f"bytes of the 100 MB answer sent: {raws['huge'].sent}; healthy latency median "
        f"{statistics.median(alone) * 1000:.1f} ms alone, {statistics.median(beside) * 1000:.1f} ms beside hostile "
        f"ones (x{ratio:.2f}), max {max(beside) * 1000:.0f} ms"
    )
    assert growth < 64, f"worker RSS grew {growth:.1f} MB while hostile receivers were hit"
    # Healthy deliveries do not queue behind hostile attempts (that would cost them a whole timeout, 2 s); the
    # bound is generous because the machine is shared: the median at most 5x the baseline, plus 200 ms.
    bound = 5 * statistics.median(alone) + 0.2
    assert statistics.median(beside) <= bound, f"healthy deliveries slowed x{ratio:.1f} beside hostile receivers"

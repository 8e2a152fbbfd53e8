"""The delivery client alone against real receivers on 127.0.0.1: outcomes, timings, caps, the SSRF guard.

Names are resolved by a table (tests/support/fake_dns.py), so nothing here
sends a DNS query. The cases that point names at private addresses, and the
real-resolver ``.invalid`` lookup, run in ``netns_delivery_guard.py`` inside a
network namespace that has only loopback (see the last test here).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from hookstream.delivery.client import DeliveryClient
from hookstream.delivery.ssrf import AddressPolicy
from hookstream.domain.classify import ErrorClass, TransportError, classify
from hookstream.runtime.local_kafka import free_port
from tests.conftest import ReceiverFactory
from tests.support import receivers as rx
from tests.support.fake_dns import FakeResolver
from tests.support.receivers import Reply

pytestmark = pytest.mark.integration

LOOPBACK = AddressPolicy.from_setting("127.0.0.0/8,::1/128")
BODY = b'{"type":"invoice.paid"}'
HEADERS = {"content-type": "application/json", "webhook-id": "msg_test"}
CAP = 65536


@asynccontextmanager
async def _client(
    policy: AddressPolicy = LOOPBACK, ca: rx.ReceiverCA | None = None, **options: Any
) -> AsyncIterator[DeliveryClient]:
    resolver = FakeResolver({"receiver.test": ["127.0.0.1"], "localhost": ["127.0.0.1"]})
    client = DeliveryClient(
        policy=policy, ssl=ca.client_context() if ca else None, resolver=resolver, max_response_bytes=CAP,
        timeout_s=options.pop("timeout_s", 5.0), **options,
    )  # fmt: skip
    async with client:
        yield client


async def test_2xx_with_timings_and_connection_reuse(receivers: ReceiverFactory) -> None:
    receiver = await receivers.plain(lambda _: Reply(200, b'{"ok":true}', {"Content-Type": "application/json"}))
    url = f"http://receiver.test:{receiver.port}/hook"
    async with _client() as client:
        first = await client.send(url, HEADERS, BODY)
        second = await client.send(url, HEADERS, BODY)
    assert (first.status, first.error) == (200, None)
    assert classify(first.outcome()).success
    assert first.body == b'{"ok":true}'
    assert first.body_size == 11
    assert not first.truncated
    assert first.content_type == "application/json"
    assert first.headers["Content-Type"] == "application/json"
    assert first.resolved_ip == "127.0.0.1"
    assert first.conn_reused is False
    assert first.dns_us is not None and first.dns_us >= 0  # a lookup happened (through the table)
    assert first.connect_us is not None and first.connect_us > 0
    assert first.tls_us is None  # plain http
    assert first.ttfb_us is not None and first.ttfb_us > 0
    assert first.transfer_us is not None and first.transfer_us >= 0
    assert first.total_us >= first.ttfb_us + first.connect_us
    assert first.request_headers is not None
    assert first.request_headers["webhook-id"] == "msg_test"
    assert first.request_headers["Content-Length"] == str(len(BODY))

    assert second.conn_reused is True
    assert second.resolved_ip == "127.0.0.1"
    assert (second.dns_us, second.connect_us, second.tls_us) == (None, None, None)
    assert second.ttfb_us is not None and second.ttfb_us > 0
    assert [r.body for r in receiver.received] == [BODY, BODY]
    assert receiver.received[0].headers["webhook-id"] == "msg_test"


async def test_500_is_recorded_with_its_body(receivers: ReceiverFactory) -> None:
    receiver = await receivers.plain(lambda _: Reply(500, b"boom"))
    async with _client() as client:
        exchange = await client.send(receiver.url, HEADERS, BODY)
    assert (exchange.status, exchange.reason, exchange.error) == (500, "Internal Server Error", None)
    assert exchange.body == b"boom"
    verdict = classify(exchange.outcome())
    assert verdict.error_class is ErrorClass.HTTP_STATUS
    assert verdict.error_text == "HTTP 500 Internal Server Error"


async def test_redirect_is_recorded_not_followed(receivers: ReceiverFactory) -> None:
    target = await receivers.plain()
    receiver = await receivers.plain(lambda _: Reply(307, b"", {"Location": target.url}))
    async with _client() as client:
        exchange = await client.send(receiver.url, HEADERS, BODY)
    assert exchange.status == 307
    assert exchange.headers["Location"] == target.url
    assert target.received == []
    assert classify(exchange.outcome()).error_class is ErrorClass.HTTP_STATUS


async def test_receiver_hanging_past_the_timeout(receivers: ReceiverFactory) -> None:
    receiver = await receivers.plain(lambda _: Reply(200, delay_s=3.0))
    async with _client(timeout_s=0.5) as client:
        exchange = await client.send(receiver.url, HEADERS, BODY)
    assert exchange.error is TransportError.TIMEOUT
    assert exchange.status is None
    assert exchange.connected  # the receiver accepted and never answered
    assert 450_000 <= exchange.total_us < 2_000_000
    assert exchange.connect_us is not None
    assert len(receiver.received) == 1
    assert classify(exchange.outcome()).error_text.startswith("response timeout")  # type: ignore[union-attr]


async def test_closed_port_is_a_connect_error() -> None:
    port = free_port()  # nothing listens there
    async with _client() as client:
        exchange = await client.send(f"http://127.0.0.1:{port}/hook", HEADERS, BODY)
    assert exchange.error is TransportError.CONNECT
    assert f"127.0.0.1:{port}" in exchange.error_detail
    assert not exchange.connected
    assert exchange.status is None


async def test_tls_with_the_trusted_test_ca(receivers: ReceiverFactory, test_ca: rx.ReceiverCA) -> None:
    receiver = await receivers.tls()
    async with _client(ca=test_ca) as client:
        first = await client.send(receiver.url, HEADERS, BODY)
        second = await client.send(receiver.url, HEADERS, BODY)
    assert (first.status, first.error) == (200, None)
    assert first.tls_us is not None and first.tls_us > 0
    assert first.connect_us is not None and first.connect_us > 0
    assert first.resolved_ip == "127.0.0.1"
    assert first.total_us > first.tls_us + first.connect_us
    assert second.conn_reused and second.tls_us is None
    assert len(receiver.received) == 2


async def test_tls_with_an_untrusted_certificate(receivers: ReceiverFactory, test_ca: rx.ReceiverCA) -> None:
    stranger = rx.ReceiverCA()  # the receiver's certificate comes from a CA the client does not trust
    receiver = await receivers.tls(ca=stranger)
    async with _client(ca=test_ca) as client:
        exchange = await client.send(receiver.url, HEADERS, BODY)
    assert exchange.error is TransportError.TLS
    assert "certificate verify failed" in exchange.error_detail
    assert exchange.status is None
    assert exchange.tls_us is None
    assert exchange.connect_us is not None  # the TCP part did happen
    assert receiver.received == []


async def test_huge_body_is_cut_at_the_cap_without_downloading_it(receivers: ReceiverFactory) -> None:
    size = 5 * 1024 * 1024
    receiver = await receivers.plain(lambda _: Reply(200, b"x" * size))
    async with _client() as client:
        exchange = await client.send(receiver.url, HEADERS, BODY)
        after = await client.send(receiver.url, HEADERS, BODY)  # the cut connection is not reused
    assert exchange.status == 200
    assert exchange.truncated is True
    assert exchange.body is not None and len(exchange.body) == CAP
    assert CAP < exchange.body_size < size // 4  # stopped reading soon after the cap
    assert classify(exchange.outcome()).success
    assert after.conn_reused is False and after.truncated


async def _raw_server(reply: bytes) -> tuple[asyncio.Server, int]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)
        writer.write(reply)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


@pytest.mark.parametrize("reply", [b"", b"SMTP ready\r\n\r\n", b"HTTP/1.1 2x0 Nope\r\n\r\n"])
async def test_garbage_or_no_answer_is_an_invalid_response(reply: bytes) -> None:
    server, port = await _raw_server(reply)
    try:
        async with _client() as client:
            exchange = await client.send(f"http://127.0.0.1:{port}/hook", HEADERS, BODY)
    finally:
        server.close()
        await server.wait_closed()
    assert exchange.error is TransportError.INVALID_RESPONSE, exchange.error_detail
    assert exchange.status is None
    assert exchange.connected


async def test_ssrf_guard_blocks_loopback_without_the_allow_setting(receivers: ReceiverFactory) -> None:
    receiver = await receivers.plain()
    async with _client(policy=AddressPolicy()) as client:
        literal = await client.send(receiver.url, HEADERS, BODY)  # http://127.0.0.1:port: no resolver involved
        named = await client.send(f"http://receiver.test:{receiver.port}/hook", HEADERS, BODY)
        mapped = await client.send(f"http://[::ffff:127.0.0.1]:{receiver.port}/hook", HEADERS, BODY)
        numeric = await client.send(f"http://2130706433:{receiver.port}/hook", HEADERS, BODY)
        scheme = await client.send("file:///etc/passwd", HEADERS, BODY)
    for exchange in (literal, named, mapped, numeric, scheme):
        assert exchange.error is TransportError.SSRF_BLOCKED, exchange
        assert exchange.status is None
        assert exchange.request_headers is None  # nothing was sent
        assert classify(exchange.outcome()).error_class is ErrorClass.SSRF_BLOCKED
    assert "127.0.0.1" in named.error_detail
    assert receiver.received == []


def _unshare_command() -> list[str]:
    """An unprivileged user+net namespace where possible; a plain one when already root."""
    unshare = shutil.which("unshare")
    assert unshare, "util-linux `unshare` is needed to run the SSRF cases with no route off the machine"
    for flags in (["-rn"], ["-n"]):
        probe = subprocess.run([unshare, *flags, "true"], capture_output=True, check=False)
        if probe.returncode == 0:
            return [unshare, *flags]
    raise AssertionError(f"cannot create a network namespace: {probe.stderr.decode().strip()}")


def test_private_address_cases_in_a_loopback_only_network_namespace() -> None:
    """Runs netns_delivery_guard.py where no packet can leave: a broken guard fails, it cannot leak."""
    root = Path(__file__).resolve().parents[2]
    script = (
        "ip link set lo up && exec "
        f"{sys.executable} -m pytest -q -p no:cacheprovider {root / 'tests/integration/netns_delivery_guard.py'}"
    )
    env = os.environ | {"HOOKSTREAM_NETNS": "1"}
    done = subprocess.run(
        [*_unshare_command(), "sh", "-c", script], cwd=root, env=env, capture_output=True, text=True, timeout=300,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert " passed" in done.stdout and "failed" not in done.stdout, done.stdout

"""SSRF cases that point names at private addresses, run only inside a loopback-only network namespace.

Not collected by a plain ``pytest`` run (no ``test_`` prefix): the test
``test_private_address_cases_in_a_loopback_only_network_namespace`` in
test_delivery_client.py starts this file under ``unshare -n``. There, a guard
that let 10.0.0.5 or 169.254.169.254 through would hit "network unreachable"
instead of sending anything, and the test would fail, not leak.
"""

from __future__ import annotations

import os
import socket

import pytest

from hookstream.delivery.client import DeliveryClient
from hookstream.delivery.ssrf import AddressPolicy
from hookstream.domain.classify import TransportError
from tests.conftest import ReceiverFactory
from tests.support.fake_dns import FakeResolver

pytestmark = pytest.mark.integration

BODY = b"{}"
TABLE = {
    "internal.test": ["10.0.0.5"],
    "metadata.test": ["169.254.169.254"],
    "v6-loopback.test": ["::1"],
    "mapped.test": ["::ffff:127.0.0.1"],
    "cgnat.test": ["100.64.0.1"],
    "ula.test": ["fd00::1"],
    "sixtofour.test": ["2002:a00:5::1"],
    "nat64.test": ["64:ff9b::a9fe:a9fe"],
    "mixed.test": ["10.0.0.5", "127.0.0.1"],
}


@pytest.fixture(autouse=True)
def only_loopback_exists() -> None:
    """Refuse to run anywhere a packet could leave the machine."""
    assert os.environ.get("HOOKSTREAM_NETNS") == "1", "run through test_delivery_client.py, inside unshare -n"
    assert [name for _, name in socket.if_nameindex()] == ["lo"], socket.if_nameindex()


def _client(allowed: str = "", resolver: FakeResolver | None = None) -> DeliveryClient:
    return DeliveryClient(
        policy=AddressPolicy.from_setting(allowed), resolver=resolver or FakeResolver(TABLE), timeout_s=3.0
    )


LOOPBACK_NAMES = {"v6-loopback.test", "mapped.test"}
CASES = [(name, "") for name in TABLE if name != "mixed.test"] + [
    (name, "127.0.0.0/8,::1/128") for name in TABLE if name != "mixed.test" and name not in LOOPBACK_NAMES
]


@pytest.mark.parametrize(("name", "allowed"), CASES)
async def test_names_resolving_to_private_addresses_are_blocked(
    receivers: ReceiverFactory, name: str, allowed: str
) -> None:
    receiver = await receivers.plain()
    async with _client(allowed) as client:  # allowing loopback opens none of the other ranges
        exchange = await client.send(f"http://{name}:{receiver.port}/hook", {}, BODY)
    assert exchange.error is TransportError.SSRF_BLOCKED, exchange
    assert TABLE[name][0] in exchange.error_detail
    assert exchange.request_headers is None
    assert receiver.received == []


async def test_mapped_loopback_is_allowed_only_through_its_ipv4_network(receivers: ReceiverFactory) -> None:
    receiver = await receivers.plain()
    async with _client("::1/128") as client:  # v6 loopback allowed, v4 loopback not
        exchange = await client.send(f"http://mapped.test:{receiver.port}/hook", {}, BODY)
    assert exchange.error is TransportError.SSRF_BLOCKED
    assert receiver.received == []


async def test_only_the_allowed_address_of_a_name_is_connected_to(receivers: ReceiverFactory) -> None:
    receiver = await receivers.plain()
    async with _client("127.0.0.0/8") as client:
        exchange = await client.send(f"http://mixed.test:{receiver.port}/hook", {}, BODY)
    assert (exchange.status, exchange.resolved_ip) == (200, "127.0.0.1")
    assert len(receiver.received) == 1


async def test_an_allowed_private_network_passes_the_guard() -> None:
    """With 10.0.0.0/8 allowed the client really tries 10.0.0.5; this namespace has no route to it."""
    async with _client("10.0.0.0/8") as client:
        exchange = await client.send("http://internal.test:8080/hook", {}, BODY)
    assert exchange.error is TransportError.CONNECT, exchange
    assert "unreachable" in exchange.error_detail.lower()


async def test_private_ip_literals_are_blocked_before_connecting() -> None:
    async with _client("127.0.0.0/8") as client:
        for url in ("http://10.0.0.5/", "http://169.254.169.254/latest/meta-data/", "http://[fd00::1]/"):
            exchange = await client.send(url, {}, BODY)
            assert exchange.error is TransportError.SSRF_BLOCKED, (url, exchange)


async def test_unresolvable_invalid_name_is_a_dns_error() -> None:
    """The real resolver: in this namespace no query can leave, so the lookup fails like an NXDOMAIN."""
    client = DeliveryClient(policy=AddressPolicy.from_setting("127.0.0.0/8"), timeout_s=10.0)
    async with client:
        exchange = await client.send("http://hookstream-no-such-host.invalid/hook", {}, BODY)
    assert exchange.error is TransportError.DNS, exchange
    assert "hookstream-no-such-host.invalid" in exchange.error_detail
    assert exchange.dns_us is None or exchange.dns_us >= 0


async def test_dns_rebinding_to_a_private_address_is_blocked_at_connect_time(receivers: ReceiverFactory) -> None:
    """Public when the endpoint was made (and at a first delivery), loopback later: checked at every connect.

    The same client may still hold the public answer in aiohttp's DNS cache (10 s): then it connects to
    that public address, which has no route here; either way nothing reaches the loopback receiver.
    """
    receiver = await receivers.plain()
    resolver = FakeResolver({"rebind.test": ["8.8.8.8"]})
    url = f"http://rebind.test:{receiver.port}/hook"
    async with _client(resolver=resolver) as first:
        exchange = await first.send(url, {}, BODY)
        assert exchange.error is TransportError.CONNECT and "unreachable" in exchange.error_detail.lower(), exchange
        resolver.table["rebind.test"] = ["127.0.0.1"]
        again = await first.send(url, {}, BODY)
        assert again.error in (TransportError.CONNECT, TransportError.SSRF_BLOCKED), again
    async with _client(resolver=resolver) as later:  # a worker without the cached answer: a fresh lookup
        rebound = await later.send(url, {}, BODY)
    assert rebound.error is TransportError.SSRF_BLOCKED and "127.0.0.1" in rebound.error_detail, rebound
    assert rebound.request_headers is None
    assert receiver.received == []

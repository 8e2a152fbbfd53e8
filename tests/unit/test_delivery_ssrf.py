"""The SSRF policy and the guarded resolver, without a network: a fake resolver answers."""

from __future__ import annotations

import pytest

from hookstream.delivery.ssrf import AddressPolicy, GuardedResolver, SSRFBlocked, check_url_host
from tests.support.fake_dns import FakeResolver

DEFAULT = AddressPolicy()

BLOCKED = [
    "0.0.0.0",
    "0.1.2.3",
    "10.0.0.5",
    "100.64.0.1",
    "100.127.255.254",
    "127.0.0.1",
    "127.255.255.254",
    "169.254.169.254",
    "172.16.0.1",
    "172.31.255.255",
    "192.0.0.8",
    "192.0.2.1",
    "192.88.99.1",
    "192.168.1.1",
    "198.18.0.1",
    "198.51.100.7",
    "203.0.113.7",
    "224.0.0.1",
    "239.255.255.250",
    "240.0.0.1",
    "255.255.255.255",
    "::",
    "::1",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.5",
    "::ffff:169.254.169.254",
    "::127.0.0.1",  # deprecated IPv4-compatible
    "64:ff9b::a00:5",  # NAT64 of 10.0.0.5
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "64:ff9b:1::1",  # local-use NAT64
    "2002:a00:5::1",  # 6to4 of 10.0.0.5
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "2001:0:4136:e378:8000:63bf:f5ff:fffa",  # Teredo, client 10.0.0.5
    "2001:db8::1",
    "fc00::1",
    "fd12:3456::1",
    "fe80::1",
    "fe80::1%eth0",
    "fec0::1",
    "ff02::1",
    "100::1",
]

ALLOWED = [
    "8.8.8.8",
    "1.1.1.1",
    "100.63.255.255",  # just below CGNAT
    "100.128.0.0",  # just above
    "172.32.0.1",
    "192.169.0.1",
    "2606:4700:4700::1111",
    "2a00:1450:4001::200e",
    "::ffff:8.8.8.8",  # mapped public: leads to a public address
    "2002:808:808::1",  # 6to4 of 8.8.8.8
    "64:ff9b::808:808",  # NAT64 of 8.8.8.8
]


@pytest.mark.parametrize("address", BLOCKED)
def test_non_public_addresses_are_refused(address: str) -> None:
    assert not DEFAULT.allows(address)


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_pass(address: str) -> None:
    assert DEFAULT.allows(address)


def test_allowed_networks_open_exactly_what_they_name() -> None:
    policy = AddressPolicy.from_setting(" 127.0.0.0/8, ::1/128 ,10.1.2.3")
    assert policy.allows("127.0.0.1")
    assert policy.allows("127.9.9.9")
    assert policy.allows("::1")
    assert policy.allows("::ffff:127.0.0.1")  # judged by the IPv4 address it leads to
    assert policy.allows("10.1.2.3")
    assert not policy.allows("10.1.2.4")
    assert not policy.allows("169.254.169.254")
    assert not policy.allows("fe80::1")


def test_a_bad_allow_setting_names_the_entry() -> None:
    with pytest.raises(ValueError, match=r"'10\.0\.0\.0/33'"):
        AddressPolicy.from_setting("127.0.0.0/8,10.0.0.0/33")


def test_garbage_is_never_allowed() -> None:
    assert not DEFAULT.allows("not-an-ip")


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "[::1]", "::1", "[::ffff:7f00:1]", "169.254.169.254", "[fe80::1%25eth0]", "2130706433",
     "127.1", "0x7f.0.0.1", "017700000001", "127.0.0.1."],
)  # fmt: skip
def test_ip_literal_and_numeric_hosts_are_checked_before_any_lookup(host: str) -> None:
    with pytest.raises(SSRFBlocked):
        check_url_host(host, DEFAULT)


@pytest.mark.parametrize("host", ["hooks.example.com", "8.8.8.8", "[2606:4700:4700::1111]", "0xdead.example"])
def test_public_literals_and_names_pass_the_literal_check(host: str) -> None:
    check_url_host(host, DEFAULT)  # names are left to the guarded resolver


async def test_guarded_resolver_drops_refused_addresses_and_keeps_the_rest() -> None:
    inner = FakeResolver({"mixed.test": ["10.0.0.5", "93.184.216.34", "::1", "2606:2800:220:1::1"]})
    results = await GuardedResolver(DEFAULT, inner).resolve("mixed.test", 443)
    assert [r["host"] for r in results] == ["93.184.216.34", "2606:2800:220:1::1"]
    assert all(r["port"] == 443 for r in results)


async def test_guarded_resolver_raises_when_nothing_is_left() -> None:
    inner = FakeResolver({"metadata.test": ["169.254.169.254", "fd00::1"]})
    with pytest.raises(SSRFBlocked) as caught:
        await GuardedResolver(DEFAULT, inner).resolve("metadata.test", 80)
    assert caught.value.addresses == ("169.254.169.254", "fd00::1")
    assert "metadata.test" in str(caught.value)
    assert not isinstance(caught.value, OSError)  # aiohttp would report an OSError as a DNS failure


async def test_guarded_resolver_passes_lookup_failures_through_and_closes_the_inner_one() -> None:
    inner = FakeResolver({})
    guard = GuardedResolver(DEFAULT, inner)
    with pytest.raises(OSError):
        await guard.resolve("nowhere.invalid", 80)
    await guard.close()
    assert inner.closed

"""The SSRF guard: customer-supplied URLs must not reach the deployment's own network.

An endpoint URL is chosen by a tenant; without a guard, ``http://169.254.169.254/``
reads cloud credentials and ``http://10.0.0.5/admin`` pokes internal services,
with the response body handed back in the attempt log. The guard refuses
every address that is not publicly routable, unless the operator allowed its
network (``delivery_allowed_networks``; dev and test allow loopback).

It is applied to the address actually connected to: :class:`GuardedResolver`
sits inside aiohttp's connector and drops refused addresses from each lookup,
so a name cannot resolve to a public address when checked and a private one
when connected (DNS rebinding). IP-literal URLs never reach a resolver, so the
client checks them with :func:`check_url_host` before sending.

Address forms that embed an IPv4 address (IPv4-mapped, 6to4, Teredo, NAT64)
are judged by the address they lead to.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# IANA special-purpose registries (IPv4 and IPv6), the blocks not globally
# reachable, plus multicast. Spelled out rather than read from
# ``ipaddress.is_global``, whose answers changed between Python versions.
_BLOCKED_V4 = tuple(
    ipaddress.IPv4Network(net)
    for net in (
        "0.0.0.0/8",  # "this network"
        "10.0.0.0/8",  # private
        "100.64.0.0/10",  # carrier-grade NAT
        "127.0.0.0/8",  # loopback
        "169.254.0.0/16",  # link-local, cloud metadata
        "172.16.0.0/12",  # private
        "192.0.0.0/24",  # IETF protocol assignments
        "192.0.2.0/24",  # documentation
        "192.88.99.0/24",  # 6to4 relay anycast (deprecated)
        "192.168.0.0/16",  # private
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",  # documentation
        "203.0.113.0/24",  # documentation
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, broadcast
    )
)
_BLOCKED_V6 = tuple(
    ipaddress.IPv6Network(net)
    for net in (
        "::/96",  # unspecified, loopback, deprecated IPv4-compatible
        "64:ff9b:1::/48",  # local-use NAT64
        "100::/64",  # discard-only
        "2001::/23",  # IETF protocol assignments (Teredo is judged by what it embeds, below)
        "2001:db8::/32",  # documentation
        "3fff::/20",  # documentation
        "5f00::/16",  # SRv6 SIDs
        "fc00::/7",  # unique local
        "fe80::/10",  # link-local
        "fec0::/10",  # site-local (deprecated)
        "ff00::/8",  # multicast
    )
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_TEREDO = ipaddress.IPv6Network("2001::/32")


class SSRFBlocked(Exception):
    """The destination is not allowed; no packet was sent to it.

    Deliberately not an ``OSError``: aiohttp turns resolver ``OSError`` s into
    DNS errors, and this must stay distinguishable.
    """

    def __init__(self, host: str, addresses: Iterable[str] = (), reason: str | None = None) -> None:
        self.host = host
        self.addresses = tuple(addresses)
        shown = ", ".join(self.addresses)
        where = f"{host} ({shown})" if shown and shown != host else host
        super().__init__(f"{where}: {reason or 'private, loopback, link-local or reserved address'}")


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """Which addresses deliveries may go to: public ones, plus the networks the operator allowed."""

    allowed: tuple[IPNetwork, ...] = ()

    @classmethod
    def from_setting(cls, text: str) -> AddressPolicy:
        """``delivery_allowed_networks``: comma-separated CIDRs (a bare address means just that address)."""
        networks = []
        for part in (p.strip() for p in text.split(",")):
            if part:
                try:
                    networks.append(ipaddress.ip_network(part, strict=False))
                except ValueError as exc:
                    raise ValueError(f"delivery_allowed_networks: {part!r} is not a CIDR: {exc}") from None
        return cls(tuple(networks))

    def allows(self, address: IPAddress | str) -> bool:
        ip = _parse(address) if isinstance(address, str) else address
        if ip is None:
            return False
        if any(ip in net for net in self.allowed if net.version == ip.version):
            return True
        if isinstance(ip, ipaddress.IPv4Address):
            return not any(ip in net for net in _BLOCKED_V4)
        embedded = _embedded_v4(ip)
        if embedded is not None:
            return all(self.allows(v4) for v4 in embedded)
        return not any(ip in net for net in _BLOCKED_V6)


def _parse(text: str) -> IPAddress | None:
    """An address without its zone (``fe80::1%eth0``): the zone never makes an address public."""
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None


def _embedded_v4(ip: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, ...] | None:
    """The IPv4 addresses an IPv6 form leads to, or None for a plain IPv6 address."""
    if ip.ipv4_mapped is not None:
        return (ip.ipv4_mapped,)
    if ip in _TEREDO:
        assert ip.teredo is not None
        return ip.teredo  # (server, client): both must be public
    if ip.sixtofour is not None:
        return (ip.sixtofour,)
    if ip in _NAT64:
        return (ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF),)
    return None


def check_url_host(host: str, policy: AddressPolicy) -> None:
    """Refuse an IP-literal host the resolver will never see; names pass (the resolver checks them).

    Numeric hosts that are not canonical addresses (``2130706433``, ``127.1``,
    ``127.0.0.1.``) are refused outright: libc would map them onto an address
    this check cannot see.
    """
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    bare = bare.replace("%25", "%")
    ip = _parse(bare)
    if ip is not None:
        if not policy.allows(ip):
            raise SSRFBlocked(host, [str(ip)])
        return
    if ":" in bare or bare.replace(".", "").isdigit() or _looks_numeric(bare):
        raise SSRFBlocked(host, reason="numeric host that is not a canonical IP address")


def _looks_numeric(host: str) -> bool:
    """Hex and octal dotted forms (``0x7f.1``) that ``inet_aton`` accepts."""
    parts = host.rstrip(".").split(".")
    return all(p.lower().startswith("0x") or p.isdigit() for p in parts if p) and any(parts)


class GuardedResolver(AbstractResolver):
    """Resolves through ``inner`` and keeps only the addresses the policy allows.

    aiohttp connects to exactly what this returns (and caches it for its DNS
    TTL), so the checked address is the connected address.
    """

    def __init__(self, policy: AddressPolicy, inner: AbstractResolver | None = None) -> None:
        self.policy = policy
        self._inner = inner if inner is not None else DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        allowed = [result for result in results if self.policy.allows(result["host"])]
        if not allowed:
            raise SSRFBlocked(host, [result["host"] for result in results])
        return allowed

    async def close(self) -> None:
        await self._inner.close()

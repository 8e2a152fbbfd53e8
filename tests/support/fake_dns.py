"""A resolver that answers from a table: names point anywhere without a DNS packet."""

from __future__ import annotations

import socket

from aiohttp.abc import AbstractResolver, ResolveResult


class FakeResolver(AbstractResolver):
    """Unknown names fail like a real lookup does (``OSError`` EAI_NONAME)."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.lookups: list[str] = []
        self.closed = False

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.lookups.append(host)
        if host not in self.table:
            raise OSError(socket.EAI_NONAME, "Name or service not known")
        return [
            ResolveResult(hostname=host, host=address, port=port,
                          family=socket.AF_INET6 if ":" in address else socket.AF_INET, proto=0, flags=0)
            for address in self.table[host]
        ]  # fmt: skip

    async def close(self) -> None:
        self.closed = True

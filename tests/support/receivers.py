"""Real HTTP receivers on 127.0.0.1 for tests: they record what arrives and answer as told."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import trustme
from aiohttp import web


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Reply:
    status: int = 200
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


Behaviour = Callable[[Received], Reply | Awaitable[Reply]]


class Receiver:
    """One aiohttp server; ``behaviour`` decides each answer, ``received`` keeps every request."""

    def __init__(
        self, behaviour: Behaviour | None = None, ssl_context: ssl.SSLContext | None = None, host: str = "127.0.0.1"
    ) -> None:
        self.host = host
        self.behaviour: Behaviour = behaviour or (lambda _: Reply())
        self.received: list[Received] = []
        self._ssl = ssl_context
        self._runner: web.AppRunner | None = None
        self._arrived = asyncio.Condition()
        self.port = 0

    @property
    def url(self) -> str:
        scheme = "https" if self._ssl else "http"
        host = "localhost" if self._ssl else self.host
        return f"{scheme}://{host}:{self.port}/hook"

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        seen = Received(request.method, request.path, dict(request.headers), await request.read(), time.time())
        async with self._arrived:
            self.received.append(seen)
            self._arrived.notify_all()
        reply = self.behaviour(seen)
        if asyncio.iscoroutine(reply) or isinstance(reply, Awaitable):
            reply = await reply
        if reply.delay_s:
            await asyncio.sleep(reply.delay_s)
        return web.Response(status=reply.status, body=reply.body, headers=reply.headers)

    async def start(self) -> Receiver:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0, ssl_context=self._ssl)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def wait_for(self, count: int, timeout_s: float = 30.0) -> list[Received]:
        """Wait until ``count`` requests arrived; fail loudly with what did arrive."""

        async def enough() -> None:
            async with self._arrived:
                await self._arrived.wait_for(lambda: len(self.received) >= count)

        try:
            await asyncio.wait_for(enough(), timeout_s)
        except TimeoutError:
            raise AssertionError(f"{self.url} got {len(self.received)} of {count} requests in {timeout_s} s") from None
        return list(self.received)


class ReceiverCA:
    """A trustme CA, a server context for receivers and a client context that trusts it."""

    def __init__(self) -> None:
        self.ca = trustme.CA()
        self.cert = self.ca.issue_cert("localhost", "127.0.0.1")

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.cert.configure_cert(context)
        return context

    def client_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        return context

"""Where the time of one request goes: marks taken by the resolver, the connector and the request class.

aiohttp's ``connection_create`` step covers DNS, TCP connect and the TLS
handshake together. :class:`TimedConnector` reads the clock between the TCP
connect and the handshake, so the attempt record can tell a slow network from
a slow TLS stack. :class:`TimedResolver` marks the DNS lookup, the connector
whether the connection was new or pooled (and its peer), and
:class:`TimedRequest` when the headers and then the body were handed to the
connection, with the headers that went out. They all write into one
:class:`RequestTrace` per request, found through the :data:`ACTIVE` context
variable (each runs in the task that sent the request, or in a task it
started, and aiohttp passes them no per-request context of ours).

aiohttp's tracing hooks (``TraceConfig``) would give the same marks, but with
any hook registered aiohttp builds a parameters object and awaits a signal at
every step of every request, whether or not a hook listens to that step:
~6 % of the delivery process's CPU (BENCHMARKS.md, Session 6). None is used.
"""

from __future__ import annotations

import asyncio
import contextvars
import socket
import time
from dataclasses import dataclass, field
from typing import Any

import aiohappyeyeballs
import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.client_proto import ResponseHandler
from aiohttp.helpers import ceil_timeout


@dataclass(slots=True)
class RequestTrace:
    """Marks of one request, in ``perf_counter_ns``; filled as the request goes, read once it ends."""

    start: int
    dns_start: int | None = None
    dns_end: int | None = None
    tcp_start: int | None = None
    tcp_end: int | None = None
    tls_end: int | None = None
    connected: bool = False
    reused: bool = False
    peer: str | None = None
    sent: int | None = None
    sent_headers: dict[str, str] | None = None
    response_at: int | None = None
    body_done: int | None = None
    status: int | None = None
    reason: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = None
    body: bytes | None = None
    body_size: int = 0
    truncated: bool = False


# The connector runs in the task that called ``send``, so a context variable
# hands it the request's trace without reaching into aiohttp's request object.
ACTIVE: contextvars.ContextVar[RequestTrace | None] = contextvars.ContextVar("hookstream_delivery_trace", default=None)


def micros(start: int | None, end: int | None) -> int | None:
    return None if start is None or end is None else max(0, (end - start) // 1000)


def phases_of(trace: RequestTrace, end: int) -> tuple[tuple[str, int, int], ...]:
    """The phases of a request that happened, ``(name, start, end)`` in ``perf_counter_ns``, in order.

    The same marks and names as the attempt record's durations (client.py's ``_exchange_of``): a reused
    connection has no connect or TLS phase, an unanswered request no transfer.
    """
    marks = [("dns", trace.dns_start, trace.dns_end)]
    if not trace.reused:
        marks += [("connect", trace.tcp_start, trace.tcp_end), ("tls", trace.tcp_end, trace.tls_end)]
    marks.append(("ttfb", trace.sent or trace.start, trace.response_at))
    if trace.response_at is not None:
        marks.append(("transfer", trace.response_at, trace.body_done or end))
    return tuple((name, start, stop) for name, start, stop in marks if start is not None and stop is not None)


class TimedConnector(aiohttp.TCPConnector):
    """A TCPConnector whose new connections are timed in two parts: TCP connect, then TLS.

    aiohttp 3.14's ``_wrap_create_connection`` opens the socket (happy
    eyeballs) and then wraps it (TLS) in one call; this does the same two
    steps with a clock read between them, and keeps aiohttp's error mapping
    by delegating the second step to ``_wrap_existing_connection``. It reads
    a few of the connector's private settings, checked at construction so an
    aiohttp upgrade that renames them fails at start, not at the first request.
    """

    _USES = ("_local_addr_infos", "_happy_eyeballs_delay", "_interleave", "_socket_factory", "_ssl_shutdown_timeout")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        missing = [name for name in self._USES if not hasattr(self, name)]
        if missing or not hasattr(self, "_wrap_existing_connection"):
            raise RuntimeError(f"aiohttp {aiohttp.__version__} lacks {missing}: TimedConnector needs updating")

    async def connect(  # aiohttp's signature, timeout parameter included
        self,
        req: aiohttp.ClientRequest,
        traces: list[aiohttp.tracing.Trace],
        timeout: aiohttp.ClientTimeout,  # noqa: ASYNC109
    ) -> aiohttp.connector.Connection:
        """Note whether the connection that carries the request is new or pooled, and its peer."""
        connection = await super().connect(req, traces, timeout)
        trace = ACTIVE.get()
        if trace is not None:
            trace.connected = True
            trace.reused = trace.tcp_start is None  # _wrap_create_connection marks every connection it opens
            if trace.reused and connection.transport is not None:
                trace.peer = peer_host(connection.transport.get_extra_info("peername")) or trace.peer
        return connection

    async def _wrap_create_connection(
        self,
        *args: Any,
        addr_infos: list[Any],
        req: aiohttp.ClientRequest,
        timeout: aiohttp.ClientTimeout,  # noqa: ASYNC109 (aiohttp's signature)
        client_error: type[Exception] = aiohttp.ClientConnectorError,
        **kwargs: Any,
    ) -> tuple[asyncio.Transport, ResponseHandler]:
        trace = ACTIVE.get()
        if trace is not None and trace.tcp_start is None:
            trace.tcp_start = time.perf_counter_ns()
        try:
            async with ceil_timeout(timeout.sock_connect, ceil_threshold=timeout.ceil_threshold):
                sock = await aiohappyeyeballs.start_connection(
                    addr_infos=addr_infos,
                    local_addr_infos=self._local_addr_infos,
                    happy_eyeballs_delay=self._happy_eyeballs_delay,
                    interleave=self._interleave,
                    loop=self._loop,
                    socket_factory=self._socket_factory,
                )
        except OSError as exc:
            if exc.errno is None and isinstance(exc, asyncio.TimeoutError):
                raise
            raise client_error(req.connection_key, exc) from exc
        if trace is not None:
            trace.tcp_end = time.perf_counter_ns()
            trace.peer = peer_host(sock.getpeername())
        if kwargs.get("ssl") and self._ssl_shutdown_timeout:
            kwargs["ssl_shutdown_timeout"] = self._ssl_shutdown_timeout
        try:
            connection = await self._wrap_existing_connection(
                *args, sock=sock, req=req, timeout=timeout, client_error=client_error, **kwargs
            )
        except BaseException:
            sock.close()
            raise
        if trace is not None and kwargs.get("ssl"):
            trace.tls_end = time.perf_counter_ns()
        return connection


def peer_host(peer: Any) -> str | None:
    return str(peer[0]).split("%", 1)[0] if isinstance(peer, tuple) and peer else None


class TimedResolver(AbstractResolver):
    """Marks the lookup of the request that asked for it (aiohttp asks only when its DNS cache misses)."""

    def __init__(self, inner: AbstractResolver) -> None:
        self._inner = inner

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        trace = ACTIVE.get()
        if trace is not None:
            trace.dns_start = time.perf_counter_ns()
        results = await self._inner.resolve(host, port, family)
        if trace is not None:
            trace.dns_end = time.perf_counter_ns()
        return results

    async def close(self) -> None:
        await self._inner.close()


class TimedRequest(aiohttp.ClientRequest):
    """Marks when the headers, then the body, were handed to the connection, and keeps the headers sent."""

    async def send(self, conn: aiohttp.connector.Connection) -> aiohttp.ClientResponse:
        response = await super().send(conn)  # the headers are written; the body is being written
        trace = ACTIVE.get()
        if trace is not None:
            trace.sent = time.perf_counter_ns()
            trace.sent_headers = flatten_headers(self.headers)  # as they went out, aiohttp's own included
        return response

    async def write_bytes(
        self, writer: Any, conn: aiohttp.connector.Connection, content_length: int | None = None
    ) -> None:
        await super().write_bytes(writer, conn, content_length)
        trace = ACTIVE.get()  # the body is written in a task send() started: it inherited the request's context
        if trace is not None:
            trace.sent = time.perf_counter_ns()


def flatten_headers(headers: Any) -> dict[str, str]:
    """A multi-dict as one value per name (repeats joined with ", ", as HTTP allows), first spelling kept."""
    flat: dict[str, str] = {}
    spelling: dict[str, str] = {}
    for name, value in headers.items():
        key = spelling.setdefault(name.lower(), name)
        flat[key] = f"{flat[key]}, {value}" if key in flat else value
    return flat

"""The delivery HTTP client: one pooled aiohttp session per worker, every phase of a POST timed.

An attempt record is only useful for debugging a receiver if it says where
the time went: each request is marked by the resolver, connector and request
class of :mod:`hookstream.delivery.timing`, and the body is read here, up to the cap.

``send`` never raises for anything the receiver or the network did: a failure
comes back as an :class:`Exchange` with a transport error, so the worker
records it like any other attempt.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import ssl
import time

import aiohttp
from aiohttp.abc import AbstractResolver
from yarl import URL

from hookstream.delivery.ssrf import AddressPolicy, GuardedResolver, SSRFBlocked, check_url_host
from hookstream.delivery.timing import (
    ACTIVE,
    RequestTrace,
    TimedConnector,
    TimedRequest,
    TimedResolver,
    flatten_headers,
    micros,
    phases_of,
)
from hookstream.domain.attempt import Exchange
from hookstream.domain.classify import TransportError
from hookstream.foundation.settings import Settings
from hookstream.foundation.tasks import Lifecycle

KEEPALIVE_S = 4.0


class DeliveryClient(Lifecycle):
    """One shared session per worker: pooled connections, the SSRF guard, the timing marks.

    ``ssl`` replaces the default (system CAs, verified) context, for tests and
    for deployments with a private CA. ``resolver`` is the inner resolver the
    guard wraps (default: aiohttp's), injectable so tests can point names
    anywhere without DNS.
    """

    def __init__(
        self,
        *,
        policy: AddressPolicy,
        timeout_s: float = 15.0,
        max_response_bytes: int = 65536,
        concurrency: int = 256,
        ssl: ssl.SSLContext | None = None,
        resolver: AbstractResolver | None = None,
        user_agent: str | None = None,
    ) -> None:
        self.policy = policy
        self.timeout_s = timeout_s
        self.max_response_bytes = max_response_bytes
        self._concurrency = concurrency
        self._ssl = ssl
        self._resolver = resolver
        self._user_agent = user_agent
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        ssl: ssl.SSLContext | None = None,
        resolver: AbstractResolver | None = None,
        user_agent: str | None = None,
    ) -> DeliveryClient:
        return cls(
            policy=AddressPolicy.from_setting(settings.delivery_allowed_networks),
            timeout_s=settings.delivery_timeout_s,
            max_response_bytes=settings.delivery_max_response_bytes,
            concurrency=settings.delivery_concurrency,
            ssl=ssl,
            resolver=resolver,
            user_agent=user_agent,
        )

    async def start(self) -> DeliveryClient:
        connector = TimedConnector(
            limit=self._concurrency,
            resolver=TimedResolver(GuardedResolver(self.policy, self._resolver)),
            ssl=self._ssl if self._ssl is not None else True,
            # Idle connections are dropped before the shortest common server idle timeout (Node's 5 s), so a
            # POST never goes out on a connection the receiver is closing (it would fail as ServerDisconnected).
            keepalive_timeout=KEEPALIVE_S,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            request_class=TimedRequest,
            timeout=aiohttp.ClientTimeout(total=None),  # the whole attempt is bounded in send()
            cookie_jar=aiohttp.DummyCookieJar(),  # one session serves every tenant: never carry cookies
            headers={"User-Agent": self._user_agent} if self._user_agent else None,
        )
        return self

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send(self, url: str, headers: dict[str, str], body: bytes, *, phases: bool = False) -> Exchange:
        """POST ``body`` to ``url`` once (no redirects followed) and report what happened (with ``phases``, the
        moments of each phase too: a traced attempt's)."""
        if self._session is None:
            raise RuntimeError("DeliveryClient.send before start()")
        trace = RequestTrace(start=time.perf_counter_ns())
        token = ACTIVE.set(trace)
        error: TransportError | None = None
        detail = ""
        try:
            _check_destination(url, self.policy)
            async with asyncio.timeout(self.timeout_s):
                await self._exchange(self._session, trace, url, headers, body)
        except TimeoutError:
            error, detail = TransportError.TIMEOUT, f"no complete response within {self.timeout_s:g} s"
        except (aiohttp.ClientError, OSError, SSRFBlocked, ValueError) as exc:  # data for the record, not a crash
            error, detail = _transport_error(exc, trace)
        finally:
            ACTIVE.reset(token)
        end = time.perf_counter_ns()
        exchange = _exchange_of(trace, error, detail, end)
        return dataclasses.replace(exchange, phases=phases_of(trace, end)) if phases else exchange

    async def _exchange(
        self, session: aiohttp.ClientSession, trace: RequestTrace, url: str, headers: dict[str, str], body: bytes
    ) -> None:
        async with session.post(url, data=body, headers=headers, allow_redirects=False) as resp:
            trace.response_at = time.perf_counter_ns()
            trace.status, trace.reason = resp.status, resp.reason
            trace.headers = flatten_headers(resp.headers)
            trace.content_type = resp.headers.get("Content-Type")
            await self._read_body(resp, trace)
            trace.body_done = time.perf_counter_ns()

    async def _read_body(self, resp: aiohttp.ClientResponse, trace: RequestTrace) -> None:
        """Read up to the cap, then hang up: a 5 MB answer is not downloaded to be thrown away."""
        cap = self.max_response_bytes
        chunks: list[bytes] = []
        kept = 0
        trace.body = b""
        while True:
            chunk = await resp.content.readany()
            if not chunk:
                break
            trace.body_size += len(chunk)
            if kept < cap:
                chunks.append(chunk[: cap - kept])
                kept += len(chunks[-1])
                trace.body = b"".join(chunks)
            if trace.body_size > cap:
                trace.truncated = True
                resp.close()  # drops the connection instead of returning a half-read one to the pool
                break


@functools.lru_cache(maxsize=4096)
def _check_destination(url: str, policy: AddressPolicy) -> None:
    """Refuse a URL the worker never sends to. Remembered per (URL, policy) once it passes (every attempt at an
    endpoint asks again, and parsing costs more than the rest of the check); a refusal raises, so is never kept."""
    parsed = URL(url)
    if parsed.scheme not in ("http", "https") or not parsed.raw_host:
        raise SSRFBlocked(url, reason="only http and https URLs with a host are delivered to")
    check_url_host(parsed.raw_host, policy)


def _transport_error(exc: Exception, trace: RequestTrace) -> tuple[TransportError, str]:
    """Name the failure the way the attempt record and the retry policy need it."""
    if isinstance(exc, SSRFBlocked):
        return TransportError.SSRF_BLOCKED, str(exc)
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return TransportError.DNS, f"{exc.host}: {exc.os_error.strerror or exc.os_error}"
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return TransportError.TLS, str(exc.certificate_error)
    if isinstance(exc, aiohttp.ClientSSLError | ssl.SSLError):
        return TransportError.TLS, str(exc)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return TransportError.CONNECT, f"{exc.host}:{exc.port}: {exc.os_error.strerror or exc.os_error}"
    if isinstance(exc, asyncio.TimeoutError):  # aiohttp's own socket timeouts, should any fire
        return TransportError.TIMEOUT, str(exc) or type(exc).__name__
    if isinstance(exc, aiohttp.InvalidURL | aiohttp.NonHttpUrlClientError) or type(exc) is ValueError:
        return TransportError.CONNECT, f"invalid URL: {exc}"
    if isinstance(exc, aiohttp.ClientOSError) and not trace.connected:
        return TransportError.CONNECT, str(exc)
    # ServerDisconnected, a bad status line, a broken chunked body, a reset mid-response
    return TransportError.INVALID_RESPONSE, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _exchange_of(trace: RequestTrace, error: TransportError | None, detail: str, end: int) -> Exchange:
    connect_us = micros(trace.tcp_start, trace.tcp_end) if not trace.reused else None
    answered = trace.status is not None
    if error in (TransportError.DNS, TransportError.CONNECT, TransportError.TLS, TransportError.SSRF_BLOCKED):
        answered = False  # these come before any response, whatever the trace saw
    return Exchange(
        status=trace.status if answered else None,
        reason=trace.reason if answered else None,
        headers=trace.headers if answered else {},
        body=trace.body if answered else None,
        body_size=trace.body_size,
        truncated=trace.truncated,
        content_type=trace.content_type if answered else None,
        resolved_ip=trace.peer,
        conn_reused=trace.reused,
        dns_us=micros(trace.dns_start, trace.dns_end),
        connect_us=connect_us,
        tls_us=micros(trace.tcp_end, trace.tls_end) if not trace.reused else None,
        ttfb_us=micros(trace.sent or trace.start, trace.response_at),
        transfer_us=micros(trace.response_at, trace.body_done or end) if answered else None,
        total_us=micros(trace.start, end) or 0,
        error=error,
        error_detail=detail,
        connected=trace.connected,
        request_headers=trace.sent_headers,
    )

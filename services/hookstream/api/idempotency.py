"""``idempotency-key`` on POSTs, for any dialect: the first completed answer, replayed from the log.

The answers live on the ``idempotency`` topic (IdempotentResponse records,
keyed by the request key), so they outlive the API process: every process
reads the topic to its end before serving and follows it, and a new answer is
acknowledged there before it is returned. A miss looks once more at the end
of the topic, so a retry that lands on another API process still replays.

A second request with a key whose first request is still running waits for
it in this process (Svix waits too) and then replays its answer, or does the
work itself if the first was not stored (a 5xx). Two API processes racing on
one key both do the work; each answers its own result, and every later repeat
gets the first one written (``ResponseWindow`` keeps the earliest).

A stored answer that cannot be written (the log is down, the body is over the
broker's record limit) is still returned: the work is done, and a 5xx would
only make the client repeat it without the protection either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime

from aiohttp import web

from hookstream.api.auth import bearer
from hookstream.domain.idempotency import (
    ResponseWindow,
    StoredResponse,
    key_problem,
    replayable_headers,
    request_key,
    storable,
)
from hookstream.log.codec import AvroCodec, UndecodableRecord
from hookstream.log.follower import TopicFollower
from hookstream.log.producer import EventProducer

log = logging.getLogger("hookstream.api.idempotency")

HEADER = "idempotency-key"
REPLAYED_HEADER = "Idempotent-Replayed"
"""Set on a replayed answer (as Stripe does), so a client can tell it did not redo the work."""
RECORD = "IdempotentResponse"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Middleware = Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]


class IdempotencyStore(TopicFollower):
    def __init__(
        self,
        bootstrap: str,
        topic: str,
        codec: AvroCodec,
        producer: EventProducer,
        window_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(bootstrap, topic)
        self.window = ResponseWindow(window_s)
        self._codec = codec
        self._producer = producer
        self._clock = clock
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    def lookup(self, key: str) -> StoredResponse | None:
        return self.window.get(key, self._clock())

    async def save(self, response: StoredResponse) -> None:
        """Acknowledged on the log, then folded in here at once (the follower's copy is a no-op)."""
        record = {
            "request_key": response.request_key, "status": response.status, "headers": dict(response.headers),
            "body": response.body, "answered_at": datetime.fromtimestamp(response.answered_at, UTC),
        }  # fmt: skip
        await (await self._producer.send(self.topic, RECORD, record, response.request_key.encode()))
        self.window.remember(response, self._clock())

    def answered(self, key: str, status: int, headers: dict[str, str], body: bytes) -> StoredResponse:
        return StoredResponse(key, status, headers, body, self._clock())

    @contextlib.asynccontextmanager
    async def single_flight(self, key: str) -> AsyncIterator[None]:
        """One request per key at a time in this process; the lock is dropped with its last holder."""
        lock, holders = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, holders + 1)
        try:
            async with lock:
                yield
        finally:
            lock, holders = self._locks[key]
            if holders == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, holders - 1)

    def _fold(self, value: bytes | None, offset: int, partition: int) -> None:
        if value is None:
            return
        try:
            _, record = self._codec.decode(value, expected=RECORD)
        except UndecodableRecord as error:
            log.error("undecodable idempotency record skipped",
                      extra={"partition": partition, "offset": offset, "reason": error.reason})  # fmt: skip
            return
        answered_at = record["answered_at"].timestamp()
        stored = StoredResponse(record["request_key"], record["status"], record["headers"], record["body"], answered_at)
        self.window.remember(stored, self._clock())


def _replay(stored: StoredResponse) -> web.Response:
    response = web.Response(status=stored.status, body=stored.body or None, headers=dict(stored.headers))
    response.headers[REPLAYED_HEADER] = "true"
    return response


def idempotent(store: IdempotencyStore, render: Middleware, bad_key: Callable[[str], Exception]) -> Middleware:
    """The middleware, mounted after the dialect's authentication so the token is known.

    ``render`` is the dialect's error middleware: the handler runs inside it, so
    a 4xx raised as an exception is stored as the body the client saw.
    ``bad_key`` builds the dialect's validation error for an unusable key.
    """

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        raw = request.headers.get(HEADER)
        token = bearer(request)
        if request.method != "POST" or raw is None or token is None:
            return await handler(request)
        problem = key_problem(raw)
        if problem is not None:
            raise bad_key(f"{HEADER} {problem}")
        key = request_key(token, request.method, request.path, raw)
        async with store.single_flight(key):
            stored = store.lookup(key)
            if stored is None:
                await store.catch_up()  # another API process may have answered it
                stored = store.lookup(key)
            if stored is not None:
                return _replay(stored)
            response = await render(request, handler)
            if storable(response.status) and isinstance(response, web.Response):
                await _store(store, key, response)
            return response

    return middleware


async def _store(store: IdempotencyStore, key: str, response: web.Response) -> None:
    body = response.body
    if body is not None and not isinstance(body, bytes):
        return  # a streamed payload cannot be replayed; none of the API's answers is one
    stored = store.answered(key, response.status, replayable_headers(response.headers.items()), body or b"")
    try:
        await store.save(stored)
    except Exception:
        log.exception("idempotent answer not stored; a repeat of this key will redo the work",
                      extra={"status": response.status})  # fmt: skip

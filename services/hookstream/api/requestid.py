"""A request id for every API request: in the response header, in the dialect's body, and in each log line.

Support starts from the id a client quotes, so the id must lead to the log
lines of exactly that request. A sane incoming ``X-Request-Id`` (a proxy's
or the client's own) is kept so a trace crosses hops; anything else is
replaced by a fresh time-sortable one. The id lives in a context variable
for the duration of the request, which ``asyncio.to_thread`` copies, so
ClickHouse calls log under it too; a logging filter on the root handlers
writes it into every record as ``request_id``. Dialect-neutral: any
(sub-)application adds ``request_ids`` to its middlewares, outermost, and
reads the id with ``request_id_of``.
"""

from __future__ import annotations

import contextvars
import logging
import re
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from hookstream.domain.ids import generate_id
from hookstream.foundation import tracing

HEADER = "X-Request-Id"
_SANE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}$")
_KEY = web.RequestKey("hookstream_request_id", str)
_current: contextvars.ContextVar[str | None] = contextvars.ContextVar("hookstream_request_id", default=None)
log = logging.getLogger("hookstream.api.request")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def new_request_id() -> str:
    return "req_" + generate_id().hex


def choose_request_id(incoming: str | None) -> str:
    """The client's id when it is short and plain (no spaces, quotes or control characters), else a new one."""
    if incoming is not None and _SANE.match(incoming):
        return incoming
    return new_request_id()


def current_request_id() -> str | None:
    return _current.get()


def request_id_of(request: web.Request) -> str:
    """The request's id; a request that has not passed ``request_ids`` gets one now (and keeps it)."""
    if _KEY not in request:
        request[_KEY] = choose_request_id(request.headers.get(HEADER))
    return request[_KEY]


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to records made while a request is being served (unless the caller set one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        request_id = _current.get()
        if request_id is not None and not hasattr(record, "request_id"):
            record.request_id = request_id
        return True


def install_log_filter() -> None:
    """Put the filter on every root handler once; called when an app using ``request_ids`` is built."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RequestIdFilter) for f in handler.filters):
            handler.addFilter(RequestIdFilter())


@web.middleware
async def request_ids(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Outermost middleware: set the id, answer it in ``X-Request-Id``, and log one line per request."""
    request_id = request_id_of(request)
    token = _current.set(request_id)
    started = time.perf_counter()
    status = 500
    try:
        if tracing.ENABLED:  # a producer's traceparent parents the spans of its request (the message's accept)
            with tracing.parent_from(request.headers.items()):
                response = await handler(request)
        else:
            response = await handler(request)
        status = response.status
        if not response.prepared:
            response.headers[HEADER] = request_id
        return response
    except web.HTTPException as error:
        status = error.status
        error.headers[HEADER] = request_id
        raise
    finally:
        took_ms = round((time.perf_counter() - started) * 1000, 1)
        log.info(
            "%s %s %s", request.method, request.path, status,
            extra={"method": request.method, "path": request.path, "status": status, "duration_ms": took_ms},
        )  # fmt: skip
        _current.reset(token)

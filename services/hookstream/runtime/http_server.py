"""The API's HTTP server: aiohttp's, except that a request it cannot parse gets a JSON answer naming why.

aiohttp refuses a request line or header line over 8190 bytes (and other
malformed requests) before any route or middleware runs, with a text/plain
400 that echoes part of the offending line and a traceback in the log. A
client of a JSON API (an SDK) then cannot read the reason, and a secret in a
huge header would reach the log. Here such a request gets the Svix error
shape (``{"code", "detail"}``: the dialect that owns most routes, and the
generic shape the other dialects' clients also read), naming the limit
and echoing nothing, and the log gets one line without the content.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import BadHttpMessage, LineTooLong
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

log = logging.getLogger("hookstream.api")

# aiohttp's defaults, which the API keeps: a 10 KB query string is a mistake or an attack, not a request.
MAX_LINE_BYTES = 8190
MAX_HEADER_BYTES = 8190


class _DialectErrorHandler(RequestHandler):
    def handle_error(
        self, request: BaseRequest, status: int = 500, exc: BaseException | None = None, message: str | None = None
    ) -> web.StreamResponse:
        if status >= 500 or not isinstance(exc, BadHttpMessage):
            return super().handle_error(request, status, exc, message)
        if isinstance(exc, LineTooLong):
            code = "line_too_long"
            detail = (f"the request line or a header is longer than {MAX_LINE_BYTES} bytes (the server's limit on "
                      "one line: shorten the query string or the header)")  # fmt: skip
        else:
            code, detail = "bad_request", f"malformed HTTP request: {type(exc).__name__}"
        log.warning("refused an unparseable request from %s: %s", request.remote, code)
        response = web.json_response({"code": code, "detail": detail}, status=status)
        response.force_close()  # the rest of the connection's bytes cannot be trusted
        return response


class _DialectErrorServer(web.Server):
    def __call__(self) -> RequestHandler:
        return _DialectErrorHandler(self, loop=self._loop, **self._kwargs)


class ApiRunner(web.AppRunner):
    """``web.AppRunner`` whose connections answer unparseable requests with :class:`_DialectErrorHandler`."""

    def __init__(self, app: web.Application, **kwargs: Any) -> None:
        kwargs.setdefault("max_line_size", MAX_LINE_BYTES)
        kwargs.setdefault("max_field_size", MAX_HEADER_BYTES)
        super().__init__(app, **kwargs)

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        server.__class__ = _DialectErrorServer  # same state, one method different (aiohttp has no handler hook)
        return server

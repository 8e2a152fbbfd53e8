"""Bearer authentication for v1: the operator token, or an application (project) token.

Which routes are open is read from the declarations (``Operation.authenticated``),
not from a list of paths kept beside them: the signed body link is its own
credential and must work without a token.
"""

from __future__ import annotations

import time

from aiohttp import web

from hookstream.api.auth import bearer, set_scope
from hookstream.api.context import API_CONTEXT
from hookstream.api.requestid import Handler
from hookstream.api.v1.errors import unauthorized

OPEN_HANDLERS = web.AppKey("v1_open_handlers", frozenset)


@web.middleware
async def v1_auth(request: web.Request, handler: Handler) -> web.StreamResponse:
    route_handler = getattr(request.match_info, "handler", None)
    if route_handler in request.app[OPEN_HANDLERS] or request.match_info.http_exception is not None:
        return await handler(request)
    token = bearer(request)
    scope = request.app[API_CONTEXT].authenticate(token, time.time()) if token else None
    if scope is None:
        raise unauthorized()
    set_scope(request, scope)
    return await handler(request)

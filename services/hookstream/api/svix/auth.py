"""Bearer-token authentication for the Svix routes.

The operator token may do everything; an application-scoped token
(``domain.access``) only its own application. The health route is open, as
Svix's is, so load balancers need no secret.
"""

from __future__ import annotations

import time

from aiohttp import web

from hookstream.api.auth import bearer, set_scope
from hookstream.api.context import API_CONTEXT
from hookstream.api.svix.errors import Handler, unauthorized
from hookstream.domain.access import authenticate

OPEN_PATHS = frozenset({"/api/v1/health", "/api/v1/health/"})


@web.middleware
async def bearer_auth(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path in OPEN_PATHS:
        return await handler(request)
    token = bearer(request)
    if token is None:
        raise unauthorized("missing bearer token")
    scope = authenticate(request.app[API_CONTEXT].operator_token, token, time.time())
    if scope is None:
        raise unauthorized("invalid token")
    set_scope(request, scope)
    return await handler(request)

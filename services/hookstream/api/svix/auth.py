"""Bearer-token authentication for the Svix routes.

Only the operator token exists so far; it may do everything. (App-scoped
tokens, which must see only their application, are not built yet.) The
health route is open, as Svix's is, so load balancers need no secret.
"""

from __future__ import annotations

import hmac

from aiohttp import web

from hookstream.api.context import API_CONTEXT
from hookstream.api.svix.errors import Handler, unauthorized

OPEN_PATHS = frozenset({"/api/v1/health", "/api/v1/health/"})


@web.middleware
async def bearer_auth(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path in OPEN_PATHS:
        return await handler(request)
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorized("missing bearer token")
    expected = request.app[API_CONTEXT].operator_token
    if not hmac.compare_digest(token.strip().encode(), expected.encode()):
        raise unauthorized("invalid token")
    return await handler(request)

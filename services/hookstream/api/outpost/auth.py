"""Bearer authentication for the Outpost routes: the admin API key is the operator token.

A tenant token (``GET /tenants/{id}/token``) is an application-scoped token
of ``domain.access``: it sees only its own tenant, and another tenant's ids
answer 404 exactly like unknown ones. Publishing needs the admin key, as in
Outpost.
"""

from __future__ import annotations

import time

from aiohttp import web

from hookstream.api.auth import bearer, scope_of, set_scope
from hookstream.api.context import API_CONTEXT
from hookstream.api.outpost.errors import Handler, OutpostError

OPEN_PATHS = frozenset({"/api/v1/healthz"})
"""Answered without a token, as Outpost does."""


@web.middleware
async def bearer_auth(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path in OPEN_PATHS:
        return await handler(request)
    token = bearer(request)
    if token is None:
        raise OutpostError(401, "missing bearer token")
    scope = request.app[API_CONTEXT].authenticate(token, time.time())
    if scope is None:
        raise OutpostError(401, "invalid token")
    set_scope(request, scope)
    return await handler(request)


def require_admin(request: web.Request, what: str) -> None:
    if not scope_of(request).is_operator:
        raise OutpostError(403, f"{what} requires the admin API key")

"""Bearer-token authentication for the Svix routes, and what an application-scoped token may reach.

The operator token may do everything; an application-scoped token
(``domain.access``) only its own application. The health routes are open, as
Svix's is, so load balancers need no secret.

The rule for application tokens lives here, once, and is read off the route
itself, so a route added later is covered without anyone remembering to:

- a route whose path carries ``{app_id}`` is the application's: the id (or
  uid) is resolved before the handler runs, and another application's
  answers 404 exactly as an unknown one would;
- every other route, and the application record itself (``PUT``/``PATCH``/
  ``DELETE /app/{app_id}``: its name, uid and throttle belong to the
  operator), answers 403 to an application token;
- a handler can say otherwise: ``@operator_only`` (a route under one
  application that only the operator may call, e.g. minting its tokens) and
  ``@for_app_tokens`` (a route under no application that an application
  token may call, e.g. logout);
- a token narrowed to some app-portal capabilities (or read-only) may call
  only the operations they permit (``domain.access.permits``, by the
  route's Svix operation id): 403 naming the capability it lacks.
"""

from __future__ import annotations

import time
import uuid
from typing import TypeVar

from aiohttp import web

from hookstream.api.auth import bearer, scope_of, set_scope
from hookstream.api.context import API_CONTEXT
from hookstream.api.svix import lookup
from hookstream.api.svix.errors import Handler, forbidden, not_found, unauthorized
from hookstream.domain.access import ALL_CAPABILITIES, FULL_ACCESS, Scope, permits
from hookstream.domain.ids import IdKind, to_svix

OPEN_PATHS = frozenset({"/api/v1/health", "/api/v1/health/", "/api/v1/health/ping", "/api/v1/health/ping/"})
APP_PARAM = "app_id"
_APP_RECORD = "/app/{app_id}"
_OPERATOR_ONLY = "__hookstream_operator_only__"
_FOR_APP_TOKENS = "__hookstream_for_app_tokens__"

H = TypeVar("H", bound=Handler)
OPERATION_IDS = web.AppKey("svix_operation_ids", dict[tuple[str, str], str])
"""(method, path template as routed, without a trailing slash) -> Svix operation id, set by the dialect."""


def operator_only(handler: H) -> H:
    """Mark a handler under ``/app/{app_id}`` that application tokens may not call, even for their own app."""
    setattr(handler, _OPERATOR_ONLY, True)
    return handler


def for_app_tokens(handler: H) -> H:
    """Mark a handler under no application that application tokens may call too."""
    setattr(handler, _FOR_APP_TOKENS, True)
    return handler


@web.middleware
async def bearer_auth(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path in OPEN_PATHS:
        return await handler(request)
    token = bearer(request)
    if token is None:
        raise unauthorized("missing bearer token")
    scope = request.app[API_CONTEXT].authenticate(token, time.time())
    if scope is None:
        raise unauthorized("invalid token")
    set_scope(request, scope)
    return await handler(request)


def _app_tokens_may_call(request: web.Request) -> bool:
    route = request.match_info.route
    target = request.match_info.handler
    canonical = route.resource.canonical.rstrip("/") if route.resource is not None else ""
    if APP_PARAM not in request.match_info:
        return bool(getattr(target, _FOR_APP_TOKENS, False))
    if getattr(target, _OPERATOR_ONLY, False):
        return False
    return not (canonical.endswith(_APP_RECORD) and route.method not in ("GET", "HEAD"))


@web.middleware
async def tenant_scope(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Confine an application token to its application, before any handler sees the request."""
    if request.path in OPEN_PATHS or request.match_info.route.resource is None:
        return await handler(request)  # open, or aiohttp's own 404/405: nothing to reveal
    scope = scope_of(request)
    if scope.is_operator:
        return await handler(request)
    if not _app_tokens_may_call(request):
        raise forbidden("an application token may not do this; it needs the operator token")
    if APP_PARAM in request.match_info:
        app = await lookup.application(request.app[API_CONTEXT], request.match_info[APP_PARAM])
        app_id = uuid.UUID(app["app_id"])
        if not scope.allows(app_id):
            raise not_found("Application")
        # Pin the path to the id just checked, so a uid re-pointed meanwhile cannot swap the application.
        request.match_info[APP_PARAM] = to_svix(IdKind.APPLICATION, app_id)
    # After the application check: another application's ids answer 404 whatever the token's capabilities.
    _check_capabilities(request, scope)
    return await handler(request)


def _check_capabilities(request: web.Request, scope: Scope) -> None:
    """403 naming the capability a narrowed token lacks for this operation (``domain.access.NEEDS``)."""
    if scope.capabilities == ALL_CAPABILITIES:
        return
    route = request.match_info.route
    canonical = route.resource.canonical.rstrip("/") if route.resource is not None else ""
    operation = request.app[OPERATION_IDS].get((route.method, canonical), "")
    lacking = permits(scope.capabilities, operation, request.method)
    if lacking == FULL_ACCESS:
        raise forbidden(f"this token's capabilities do not cover this operation: it needs {lacking}")
    if lacking is not None:
        raise forbidden(f"this token lacks the {lacking} capability")

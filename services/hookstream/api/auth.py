"""The scope of the request's bearer token, shared by every dialect.

Each dialect's middleware authenticates (``domain.access.authenticate``) and
stores the scope on the request with ``set_scope``; handlers and lookups read
it with ``scope_of`` and answer 404 for ids outside it.
"""

from __future__ import annotations

from aiohttp import web

from hookstream.domain.access import Scope

_SCOPE = web.RequestKey("hookstream_scope", Scope)


def bearer(request: web.Request) -> str | None:
    """The token of ``Authorization: Bearer <token>``, or None when absent or another scheme."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def set_scope(request: web.Request, scope: Scope) -> None:
    request[_SCOPE] = scope


def scope_of(request: web.Request) -> Scope:
    """The authenticated scope; a route reached without authentication has none, which is a bug."""
    return request[_SCOPE]

"""Svix's ``/auth`` routes: application portal access (and its deprecated dashboard form), logout.

Access answers an application-scoped token (``domain.access``: stateless,
HMAC under a key derived from the operator token) and a portal URL on this
server, ``<origin>/console/portal#key=<token>`` (the console's consumer
portal): the token rides in the fragment, so it never reaches an access log;
the page moves it to session storage and removes it from the address. The
token itself is what clients use, as a bearer token on the same API.

A token grants what is under its application and nothing else: by default
everything there (list, read and write endpoints, messages, attempts);
with ``readOnly`` or a subset of ``capabilities``, only what those allow
(``domain.access``: signed into the token, checked by ``auth.tenant_scope``
on every route). ``featureFlags`` and ``sessionId`` are checked and
accepted but not carried.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from hookstream.api.auth import bearer, scope_of
from hookstream.api.commands import APPLICATION, Record
from hookstream.api.console import PORTAL_PATH
from hookstream.api.context import API_CONTEXT, ApiContext
from hookstream.api.spec import Operation, Response, read_body, read_params
from hookstream.api.svix import applications, lookup, params
from hookstream.api.svix.auth import for_app_tokens, operator_only
from hookstream.api.svix.errors import Invalid, forbidden, not_found
from hookstream.api.svix.params import APP_ID, IDEMPOTENCY_KEY
from hookstream.api.svix.schemas import APP_PORTAL_ACCESS_IN, MAX_EXPIRY_S, ref
from hookstream.domain.access import granted, token_id
from hookstream.domain.ids import IdKind


def _grant(body: Mapping[str, Any]) -> frozenset[str]:
    """The capabilities the token carries: ``readOnly`` (deprecated by Svix) wins over ``capabilities``."""
    try:
        return granted(body.get("capabilities"), read_only=bool(body.get("readOnly")))
    except ValueError as error:
        raise Invalid(["body", "capabilities"], str(error)) from None


def _new_application(body: Mapping[str, Any], ref: str) -> dict[str, Any] | None:
    """The record to create when ``ref`` names no application yet (its uid: the body's, else ``ref``).

    Validated even when the application exists and the record goes unused,
    so a bad body is refused the same way whatever the state.
    """
    given = body.get("application")
    if given is None:
        return None
    try:
        return applications._new(given, given.get("uid") or ref)
    except Invalid as error:
        raise Invalid(["body", "application", *error.loc[1:]], error.msg, error.kind) from None


async def _application(ctx: ApiContext, ref: str, new: dict[str, Any] | None) -> uuid.UUID:
    """The application ``ref`` names, created from ``new`` when there is none and ``ref`` can be its uid."""

    def change(current: Record | None) -> Record | None:
        if current is not None:
            return None
        if new is None or params.id_or_ref(ref, IdKind.APPLICATION) is not None:
            raise not_found("Application")
        return applications.uid_checked(ctx, new)

    written = await ctx.commands.upsert(APPLICATION, lambda: lookup.find_application_fresh(ctx, ref), change)
    return uuid.UUID(written.record["app_id"])


async def _access(request: web.Request, op: Operation) -> web.Response:
    ctx = request.app[API_CONTEXT]
    ref = read_params(request, op)["app_id"]
    body = await read_body(request, op) or {}
    expiry = body.get("expiry") or MAX_EXPIRY_S
    capabilities = _grant(body)
    app_id = await _application(ctx, ref, _new_application(body, ref))
    token = ctx.issue_app_token(app_id, int(time.time()) + expiry, capabilities)
    url = request.url.origin().with_path(PORTAL_PATH).with_fragment(f"key={token}")
    return web.json_response({"url": str(url), "token": token})


@operator_only
async def app_portal_access(request: web.Request) -> web.Response:
    """A token for one application (created first from ``application`` when the path's uid names none)."""
    return await _access(request, APP_PORTAL_ACCESS)


@operator_only
async def dashboard_access(request: web.Request) -> web.Response:
    """Deprecated by Svix for ``app-portal-access``; the same answer, the body optional."""
    return await _access(request, DASHBOARD_ACCESS)


@for_app_tokens
async def logout(request: web.Request) -> web.Response:
    """Revoke the presented application token, and it alone (``domain.revocation``).

    Once this answers, this process refuses the token with 401; another API
    process does once it has followed ``background-tasks`` to the record,
    and a restarted one from its start. The application's other tokens keep
    working (expire-all revokes them all). The operator token cannot log out
    (Svix: "trying to log out other tokens will fail").
    """
    if scope_of(request).is_operator:
        raise forbidden("only an application token can log out")
    token = token_id(bearer(request) or "")
    assert token is not None, "the middleware verified an application token"
    await request.app[API_CONTEXT].background.revoke(token)
    return web.Response(status=204)


_ACCESS = {200: Response("a token for the application, and its portal URL", ref("AppPortalAccessOut")),
           404: Response("no such application, and none to create", ref("HttpError"))}  # fmt: skip
APP_PORTAL_ACCESS = Operation(
    "POST", "/auth/app-portal-access/{app_id}", app_portal_access, "v1.authentication.app-portal-access",
    "A token scoped to one application (created from the body's application when the path's uid names none)",
    params=(APP_ID, IDEMPOTENCY_KEY), body=APP_PORTAL_ACCESS_IN, body_required=False, responses=_ACCESS,
)  # fmt: skip
DASHBOARD_ACCESS = Operation(
    "POST", "/auth/dashboard-access/{app_id}", dashboard_access, "v1.authentication.dashboard-access",
    "Deprecated form of app-portal-access", params=(APP_ID, IDEMPOTENCY_KEY), body=APP_PORTAL_ACCESS_IN,
    body_required=False, responses=_ACCESS,
)  # fmt: skip
LOGOUT = Operation("POST", "/auth/logout", logout, "v1.authentication.logout",
                   "Log out the presented application token: it answers 401 from then on, the application's other "
                   "tokens keep working",
                   params=(IDEMPOTENCY_KEY,), responses={204: Response("logged out")})  # fmt: skip
OPERATIONS = (APP_PORTAL_ACCESS, DASHBOARD_ACCESS, LOGOUT)

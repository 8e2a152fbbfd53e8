"""Outpost tenants: upsert, get, delete, list, tenant token. A tenant is a hookstream application.

An upsert of an unknown tenant id creates the application with that id as
its ``uid`` (and name), so the Svix dialect finds the same application by
that uid. Writes are ApplicationUpserted / ApplicationDeleted on ``config``.
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime
from typing import Any

from aiohttp import web

from hookstream.api.auth import scope_of
from hookstream.api.commands import APPLICATION, Record
from hookstream.api.console import PORTAL_PATH
from hookstream.api.context import API_CONTEXT, ApiContext
from hookstream.api.fresh import find_fresh
from hookstream.api.outpost import cursors, lookup
from hookstream.api.outpost.auth import require_admin
from hookstream.api.outpost.shapes import ref, tenant_out
from hookstream.api.spec import Operation, Param, Response, read_body, read_params
from hookstream.domain.ids import generate_id

TOKEN_TTL_S = 24 * 3600
NAME_PATTERN = r"^[a-zA-Z0-9\-_.]{1,256}$"  # Svix's uid pattern: a tenant id must be a valid uid for both dialects
TENANT_ID = Param("tenant_id", "path", {"type": "string", "pattern": NAME_PATTERN}, True, "the tenant's id")
_METADATA = {"type": ["object", "null"], "additionalProperties": {"type": "string"}}


def out(ctx: ApiContext, app: dict[str, Any]) -> dict[str, Any]:
    return tenant_out(app, ctx.records.endpoints_of(lookup.app_uuid(app)))


async def upsert(request: web.Request) -> web.Response:
    ctx = request.app[API_CONTEXT]
    ref_ = read_params(request, UPSERT)["tenant_id"]
    body = await read_body(request, UPSERT)
    metadata = (body or {}).get("metadata") or {}

    async def read() -> Record | None:
        current = await find_fresh(ctx.cache, lambda: lookup.find_tenant(ctx, ref_))
        if current is None and scope_of(request).is_operator:
            return None  # a tenant token gets 404 below: it cannot tell an unknown id from another tenant's
        return await lookup.tenant(ctx, request, ref_)

    def change(current: Record | None) -> Record:
        if current is None:
            return {"app_id": str(generate_id()), "name": ref_, "uid": ref_, "rate_limit": None, "metadata": metadata}
        return {"metadata": metadata}

    written = await ctx.commands.upsert(APPLICATION, read, change)
    record, status = written.record, 201 if written.created else 200
    return web.json_response(out(ctx, record), status=status)


async def get(request: web.Request) -> web.Response:
    ctx = request.app[API_CONTEXT]
    app = await lookup.tenant(ctx, request, read_params(request, GET)["tenant_id"])
    return web.json_response(out(ctx, app))


async def delete(request: web.Request) -> web.Response:
    ctx = request.app[API_CONTEXT]
    ref_ = read_params(request, DELETE)["tenant_id"]
    await ctx.commands.delete(APPLICATION, lambda: lookup.tenant(ctx, request, ref_))
    return web.json_response({"success": True})


async def list_tenants(request: web.Request) -> web.Response:
    """Newest first by creation (``dir=asc`` oldest first); a tenant token sees only its own tenant."""
    ctx = request.app[API_CONTEXT]
    params = read_params(request, LIST)
    scope = scope_of(request)
    apps = [app for app in ctx.records.applications() if scope.allows(app["app_id"])]
    if params["id"]:
        wanted = set(params["id"])
        apps = [app for app in apps if lookup.tenant_id(app) in wanted]
    walk = cursors.Walk.read(params)

    def key(app: dict[str, Any]) -> tuple[datetime, uuid.UUID]:
        return app.get("created_at") or app["updated_at"], lookup.app_uuid(app)

    newest_first, more = walk.page(apps, key, params["limit"])
    shown = walk.in_order(newest_first)
    first = cursors.encode(*key(shown[0])) if shown else None
    last = cursors.encode(*key(shown[-1])) if shown else None
    return web.json_response({"models": [out(ctx, app) for app in shown], "count": len(apps),
                              "pagination": walk.pagination(first, last, more, params["limit"])})  # fmt: skip


async def token(request: web.Request) -> web.Response:
    """A tenant token: an application-scoped bearer token (``domain.access``), valid for 24 hours.

    Admin key only, as in Outpost: a tenant token minting tokens would outlive its own 24 hours."""
    ctx = request.app[API_CONTEXT]
    require_admin(request, "a tenant token")
    app = await lookup.tenant(ctx, request, read_params(request, TOKEN)["tenant_id"])
    expires = int(time.time()) + TOKEN_TTL_S
    issued = ctx.issue_app_token(lookup.app_uuid(app), expires)
    return web.json_response({"token": issued, "tenant_id": lookup.tenant_id(app)})


async def portal(request: web.Request) -> web.Response:
    """The consumer portal for the tenant: the console's ``/console/portal`` with a tenant token in the URL's
    fragment (never sent to a server, so never in an access log); ``theme`` is accepted and not used.

    Admin key only, as in Outpost, for the token's reason: a tenant token would mint itself fresh ones here."""
    ctx = request.app[API_CONTEXT]
    require_admin(request, "a tenant token")
    app = await lookup.tenant(ctx, request, read_params(request, PORTAL)["tenant_id"])
    issued = ctx.issue_app_token(lookup.app_uuid(app), int(time.time()) + TOKEN_TTL_S)
    url = request.url.origin().with_path(PORTAL_PATH).with_fragment(f"key={issued}")
    return web.json_response({"redirect_url": str(url), "tenant_id": lookup.tenant_id(app)})


_NOT_FOUND = {404: Response("no such tenant (or not this token's)")}
LIST = Operation(
    "GET", "/tenants", list_tenants, "listTenants", "List tenants",
    params=(Param("id", "query", {"type": "array", "items": {"type": "string"}}, description="tenant ids"),
            Param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}),
            *cursors.PARAMS),
    responses={200: Response("a page of tenants", ref("TenantPage"))},
)  # fmt: skip
UPSERT = Operation(
    "PUT", "/tenants/{tenant_id}", upsert, "upsertTenant", "Create or update a tenant", params=(TENANT_ID,),
    body={"type": ["object", "null"], "properties": {"metadata": _METADATA}, "additionalProperties": False},
    body_required=False,
    responses={200: Response("updated", ref("Tenant")), 201: Response("created", ref("Tenant"))},
)  # fmt: skip
GET = Operation("GET", "/tenants/{tenant_id}", get, "getTenant", "Get a tenant", params=(TENANT_ID,),
                responses={200: Response("the tenant", ref("Tenant")), **_NOT_FOUND})  # fmt: skip
DELETE = Operation("DELETE", "/tenants/{tenant_id}", delete, "deleteTenant", "Delete a tenant and its destinations",
                   params=(TENANT_ID,), responses={200: Response("deleted", ref("Success")), **_NOT_FOUND})  # fmt: skip
TOKEN = Operation(
    "GET", "/tenants/{tenant_id}/token", token, "getTenantToken", "A token scoped to the tenant", params=(TENANT_ID,),
    responses={200: Response("the token", ref("TenantToken")), 403: Response("not the admin API key"), **_NOT_FOUND},
)  # fmt: skip
PORTAL = Operation(
    "GET", "/tenants/{tenant_id}/portal", portal, "getTenantPortalUrl", "A URL opening the tenant's consumer portal",
    params=(TENANT_ID, Param("theme", "query", {"type": "string", "enum": ["light", "dark"]},
                             description="accepted; the portal has one theme")),
    responses={200: Response("the portal URL", ref("PortalRedirect")), 403: Response("not the admin API key"),
               **_NOT_FOUND},
)  # fmt: skip
OPERATIONS = (LIST, UPSERT, GET, DELETE, TOKEN, PORTAL)

"""Svix applications: create (``get_if_exists``), list, get by id or uid, update (PUT upsert), patch, delete.

Each write is an ApplicationUpserted/ApplicationDeleted event on ``config``
carrying the whole new state; the answer is built from that record once the
API's config view holds it (read your writes).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import web

from hookstream.api.commands import APPLICATION, Record
from hookstream.api.context import API_CONTEXT, ApiContext
from hookstream.api.fresh import find_fresh
from hookstream.api.spec import Operation, Response, read_body, read_params
from hookstream.api.svix import lookup, params
from hookstream.api.svix.errors import Invalid, conflict, not_found
from hookstream.api.svix.pagination import id_list_response, id_page
from hookstream.api.svix.params import APP_ID, IDEMPOTENCY_KEY, ORDER, PAGE, flag
from hookstream.api.svix.schemas import application_in, list_of, ref
from hookstream.api.svix.shapes import application_out
from hookstream.domain.ids import IdKind, generate_id
from hookstream.domain.operational import OPERATIONAL_APP_ID

OPERATIONAL_APP_KEY = str(OPERATIONAL_APP_ID)  # the operators' reserved application is no tenant


def _name(body: Mapping[str, Any]) -> str:
    """The schema wants a non-empty string; blank is empty too."""
    name = body["name"]
    if not name.strip():
        raise Invalid(["body", "name"], "name must not be empty")
    return name


def _check_uid_free(ctx: ApiContext, uid: str | None, app_id: uuid.UUID | None) -> None:
    if uid is None:
        return
    holder = ctx.records.application_by_uid(uid)
    if holder is not None and uuid.UUID(holder["app_id"]) != app_id:
        raise conflict(f"an application with uid {uid!r} already exists")


def _new(body: Mapping[str, Any], uid: str | None) -> dict[str, Any]:
    """A new application's fields (``Commands.upsert`` adds the version and times)."""
    return {
        "app_id": str(generate_id()),
        "name": _name(body),
        "uid": uid,
        "rate_limit": body.get("throttleRate"),
        "metadata": params.string_map(body, "metadata") or {},
    }


def uid_checked(ctx: ApiContext, new: Record) -> Record:
    """A new application's fields, once its uid is known to be free."""
    _check_uid_free(ctx, new["uid"], None)
    return new


async def create(request: web.Request) -> web.Response:
    ctx = request.app[API_CONTEXT]
    get_if_exists = read_params(request, CREATE)["get_if_exists"]
    body = await read_body(request, CREATE)
    uid = body.get("uid")
    new = _new(body, uid)

    def change(current: Record | None) -> Record | None:
        if current is not None and not get_if_exists:
            raise conflict(f"an application with uid {uid!r} already exists")
        return None if current is not None else new

    written = await ctx.commands.upsert(APPLICATION, lambda: find_fresh(ctx.cache, _by_uid(ctx, uid)), change)
    return web.json_response(application_out(written.record), status=201 if written.created else 200)


def _by_uid(ctx: ApiContext, uid: str | None) -> Callable[[], dict[str, Any] | None]:
    return lambda: ctx.records.application_by_uid(uid) if uid else None


async def list_applications(request: web.Request) -> web.Response:
    ctx = request.app[API_CONTEXT]
    query = read_params(request, LIST)
    tenants = [r for r in ctx.records.applications() if r["app_id"] != OPERATIONAL_APP_KEY]
    items, page = id_page(tenants, "app_id", query, IdKind.APPLICATION, query["limit"])
    return web.json_response(id_list_response([application_out(r) for r in items], page))


async def get(request: web.Request) -> web.Response:
    ctx = request.app[API_CONTEXT]
    return web.json_response(application_out(await lookup.application(ctx, read_params(request, GET)["app_id"])))


async def update(request: web.Request) -> web.Response:
    """PUT: replace the application, or create it (with the path as its uid) when there is none."""
    ctx = request.app[API_CONTEXT]
    ref_ = read_params(request, UPDATE)["app_id"]
    body = await read_body(request, UPDATE)
    uid = body.get("uid")

    def change(current: Record | None) -> Record:
        if current is None:
            if params.id_or_ref(ref_, IdKind.APPLICATION) is not None:
                raise not_found("Application")
            return uid_checked(ctx, _new(body, uid or ref_))
        _check_uid_free(ctx, uid, uuid.UUID(current["app_id"]))
        return {"name": _name(body), "uid": uid, "rate_limit": body.get("throttleRate"),
                "metadata": params.string_map(body, "metadata") or {}}  # fmt: skip

    written = await ctx.commands.upsert(APPLICATION, lambda: lookup.find_application_fresh(ctx, ref_), change)
    return web.json_response(application_out(written.record), status=201 if written.created else 200)


async def patch(request: web.Request) -> web.Response:
    ctx = request.app[API_CONTEXT]
    app_ref = read_params(request, PATCH)["app_id"]
    body = await read_body(request, PATCH)
    changes: dict[str, Any] = {}
    if "name" in body:
        changes["name"] = _name(body)
    if "uid" in body:
        changes["uid"] = body["uid"]
    if "throttleRate" in body:
        changes["rate_limit"] = body["throttleRate"]
    if "metadata" in body:
        changes["metadata"] = params.string_map(body, "metadata") or {}

    def change(current: Record | None) -> Record:
        assert current is not None
        _check_uid_free(ctx, changes.get("uid"), uuid.UUID(current["app_id"]))
        return changes

    written = await ctx.commands.upsert(APPLICATION, lambda: lookup.application(ctx, app_ref), change)
    return web.json_response(application_out(written.record))


async def delete(request: web.Request) -> web.Response:
    ctx = request.app[API_CONTEXT]
    app_ref = read_params(request, DELETE)["app_id"]
    await ctx.commands.delete(APPLICATION, lambda: lookup.application(ctx, app_ref))
    return web.Response(status=204)


_OUT = ref("ApplicationOut")
_MISSING = {404: Response("no such application", ref("HttpError"))}
LIST = Operation(
    "GET",
    "/app",
    list_applications,
    "v1.application.list",
    "List applications",
    params=(*PAGE, ORDER),
    responses={200: Response("a page of applications", list_of("ApplicationOut"))},
)
CREATE = Operation(
    "POST",
    "/app",
    create,
    "v1.application.create",
    "Create an application",
    params=(flag("get_if_exists", "answer the application holding the uid instead of 409"), IDEMPOTENCY_KEY),
    body=application_in(),
    responses={201: Response("created", _OUT), 200: Response("it existed (get_if_exists)", _OUT)},
)
GET = Operation(
    "GET",
    "/app/{app_id}",
    get,
    "v1.application.get",
    "Get an application",
    params=(APP_ID,),
    responses={200: Response("the application", _OUT), **_MISSING},
)
UPDATE = Operation(
    "PUT",
    "/app/{app_id}",
    update,
    "v1.application.update",
    "Update an application (create it: the path is its uid)",
    params=(APP_ID,),
    body=application_in(),
    responses={200: Response("updated", _OUT), 201: Response("created", _OUT), **_MISSING},
)
PATCH = Operation(
    "PATCH",
    "/app/{app_id}",
    patch,
    "v1.application.patch",
    "Change some of an application",
    params=(APP_ID,),
    body=application_in(partial=True),
    responses={200: Response("updated", _OUT), **_MISSING},
)
DELETE = Operation(
    "DELETE",
    "/app/{app_id}",
    delete,
    "v1.application.delete",
    "Delete an application",
    params=(APP_ID,),
    responses={204: Response("deleted"), **_MISSING},
)
OPERATIONS = (LIST, CREATE, GET, UPDATE, PATCH, DELETE)

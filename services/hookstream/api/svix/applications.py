"""Svix applications: create (``get_if_exists``), list, get by id or uid, update (PUT upsert), patch, delete.

Each write is an ApplicationUpserted/ApplicationDeleted event on ``config``
carrying the whole new state; the answer is built from that record once the
API's config view holds it (read your writes).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from hookstream.api.context import API_CONTEXT, ApiContext
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
    holder = ctx.directory.application_by_uid(uid)
    if holder is not None and uuid.UUID(holder["app_id"]) != app_id:
        raise conflict(f"an application with uid {uid!r} already exists")


async def _write(ctx: ApiContext, record: dict[str, Any]) -> dict[str, Any]:
    await ctx.commands.config("ApplicationUpserted", record, record["app_id"])
    return record


def _new(body: Mapping[str, Any], uid: str | None) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "app_id": str(generate_id()),
        "name": _name(body),
        "uid": uid,
        "rate_limit": body.get("throttleRate"),
        "metadata": params.string_map(body, "metadata") or {},
        "version": 1,
        "created_at": now,
        "updated_at": now,
    }


async def create(request: web.Request) -> web.Response:
    ctx = request.app[API_CONTEXT]
    get_if_exists = read_params(request, CREATE)["get_if_exists"]
    body = await read_body(request, CREATE)
    uid = body.get("uid")
    record = _new(body, uid)
    async with ctx.commands.config_lock:
        await ctx.cache.catch_up()
        existing = ctx.directory.application_by_uid(uid) if uid else None
        if existing is not None:
            if get_if_exists:
                return web.json_response(application_out(existing), status=200)
            raise conflict(f"an application with uid {uid!r} already exists")
        await _write(ctx, record)
    return web.json_response(application_out(record), status=201)


async def list_applications(request: web.Request) -> web.Response:
    ctx = request.app[API_CONTEXT]
    query = read_params(request, LIST)
    tenants = [r for r in ctx.directory.applications.values() if r["app_id"] != OPERATIONAL_APP_KEY]
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
    async with ctx.commands.config_lock:
        await ctx.cache.catch_up()
        current = lookup.find_application(ctx, ref_)
        if current is None:
            if params.id_or_ref(ref_, IdKind.APPLICATION) is not None:
                raise not_found("Application") from None
            uid = uid or ref_
            _check_uid_free(ctx, uid, None)
            record = await _write(ctx, _new(body, uid))
            return web.json_response(application_out(record), status=201)
        app_id = uuid.UUID(current["app_id"])
        _check_uid_free(ctx, uid, app_id)
        record = {**current, "name": _name(body), "uid": uid, "rate_limit": body.get("throttleRate"),
                  "metadata": params.string_map(body, "metadata") or {}, "version": current["version"] + 1,
                  "updated_at": datetime.now(UTC)}  # fmt: skip
        await _write(ctx, record)
    return web.json_response(application_out(record))


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
    async with ctx.commands.config_lock:
        current = await lookup.application(ctx, app_ref)
        _check_uid_free(ctx, changes.get("uid"), uuid.UUID(current["app_id"]))
        record = {**current, **changes, "version": current["version"] + 1, "updated_at": datetime.now(UTC)}
        await _write(ctx, record)
    return web.json_response(application_out(record))


async def delete(request: web.Request) -> web.Response:
    ctx = request.app[API_CONTEXT]
    async with ctx.commands.config_lock:
        current = await lookup.application(ctx, read_params(request, DELETE)["app_id"])
        record = {"app_id": current["app_id"], "uid": current.get("uid"), "version": current["version"] + 1,
                  "deleted_at": datetime.now(UTC)}  # fmt: skip
        await ctx.commands.config("ApplicationDeleted", record, current["app_id"])
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

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
from hookstream.api.svix import lookup, params
from hookstream.api.svix.errors import Invalid, conflict, not_found
from hookstream.api.svix.pagination import id_list_response, id_page
from hookstream.api.svix.shapes import application_out
from hookstream.domain.ids import IdKind, generate_id


def _name(body: Mapping[str, Any], *, required: bool) -> str | None:
    name = params.field(body, "name", str, required=required)
    if name is not None and not name.strip():
        raise Invalid(["body", "name"], "name must not be empty")
    return name


def _throttle(body: Mapping[str, Any]) -> int | None:
    rate = params.field(body, "throttleRate", int)
    if rate is not None and rate < 0:
        raise Invalid(["body", "throttleRate"], "throttleRate must be at least 0")
    return rate


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
        "name": _name(body, required=True),
        "uid": uid,
        "rate_limit": _throttle(body),
        "metadata": params.string_map(body, "metadata") or {},
        "version": 1,
        "created_at": now,
        "updated_at": now,
    }


async def create(request: web.Request) -> web.Response:
    ctx = request.app[API_CONTEXT]
    body = await params.json_body(request)
    get_if_exists = params.boolean(request.query, "get_if_exists", False)
    uid = params.uid(body)
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
    limit = params.limit(request.query)
    items, page = id_page(list(ctx.directory.applications.values()), "app_id", request.query, IdKind.APPLICATION,
                          limit)  # fmt: skip
    return web.json_response(id_list_response([application_out(r) for r in items], page))


async def get(request: web.Request) -> web.Response:
    ctx = request.app[API_CONTEXT]
    return web.json_response(application_out(await lookup.application(ctx, request.match_info["app_id"])))


async def update(request: web.Request) -> web.Response:
    """PUT: replace the application, or create it (with the path as its uid) when there is none."""
    ctx = request.app[API_CONTEXT]
    ref = request.match_info["app_id"]
    body = await params.json_body(request)
    uid = params.uid(body)
    async with ctx.commands.config_lock:
        await ctx.cache.catch_up()
        current = lookup.find_application(ctx, ref)
        if current is None:
            if params.id_or_ref(ref, IdKind.APPLICATION) is not None:
                raise not_found("Application") from None
            uid = uid or ref
            _check_uid_free(ctx, uid, None)
            record = await _write(ctx, _new(body, uid))
            return web.json_response(application_out(record), status=201)
        app_id = uuid.UUID(current["app_id"])
        _check_uid_free(ctx, uid, app_id)
        record = {**current, "name": _name(body, required=True), "uid": uid, "rate_limit": _throttle(body),
                  "metadata": params.string_map(body, "metadata") or {}, "version": current["version"] + 1,
                  "updated_at": datetime.now(UTC)}  # fmt: skip
        await _write(ctx, record)
    return web.json_response(application_out(record))


async def patch(request: web.Request) -> web.Response:
    ctx = request.app[API_CONTEXT]
    body = await params.json_body(request)
    changes: dict[str, Any] = {}
    if "name" in body:
        changes["name"] = _name(body, required=True)
    if "uid" in body:
        changes["uid"] = params.uid(body)
    if "throttleRate" in body:
        changes["rate_limit"] = _throttle(body)
    if "metadata" in body:
        changes["metadata"] = params.string_map(body, "metadata") or {}
    async with ctx.commands.config_lock:
        current = await lookup.application(ctx, request.match_info["app_id"])
        _check_uid_free(ctx, changes.get("uid"), uuid.UUID(current["app_id"]))
        record = {**current, **changes, "version": current["version"] + 1, "updated_at": datetime.now(UTC)}
        await _write(ctx, record)
    return web.json_response(application_out(record))


async def delete(request: web.Request) -> web.Response:
    ctx = request.app[API_CONTEXT]
    async with ctx.commands.config_lock:
        current = await lookup.application(ctx, request.match_info["app_id"])
        record = {"app_id": current["app_id"], "uid": current.get("uid"), "version": current["version"] + 1,
                  "deleted_at": datetime.now(UTC)}  # fmt: skip
        await ctx.commands.config("ApplicationDeleted", record, current["app_id"])
    return web.Response(status=204)


ROUTES = [
    ("GET", "/app", list_applications),
    ("POST", "/app", create),
    ("GET", "/app/{app_id}", get),
    ("PUT", "/app/{app_id}", update),
    ("PATCH", "/app/{app_id}", patch),
    ("DELETE", "/app/{app_id}", delete),
]

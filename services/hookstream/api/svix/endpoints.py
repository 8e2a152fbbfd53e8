"""Svix endpoints: create, list, get (id or uid), update (PUT upsert), patch, delete.

Writes are EndpointUpserted / EndpointDeleted events on ``config``; a new
endpoint's signing secret is sealed with the deployment's SecretBox before
it reaches the log. The endpoint's secret, headers, and recovery and
statistics live in modules of their own (``endpoint_secrets``,
``endpoint_headers``, ``endpoint_recovery``), as Svix's server splits them;
they find the endpoint with :func:`target` and :func:`reader` from here.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from hookstream.api.commands import ENDPOINT, Read, Record
from hookstream.api.context import API_CONTEXT, ApiContext
from hookstream.api.spec import Operation, Response, read_body, read_params
from hookstream.api.svix import lookup, params
from hookstream.api.svix.errors import Invalid, conflict, not_found
from hookstream.api.svix.pagination import id_list_response, id_page
from hookstream.api.svix.params import APP_ID, ENDPOINT_ID, IDEMPOTENCY_KEY, ORDER, PAGE
from hookstream.api.svix.schemas import (
    endpoint_in,
    list_of,
    ref,
)
from hookstream.api.svix.shapes import endpoint_out
from hookstream.domain.ids import IdKind, generate_id
from hookstream.domain.signing import MAX_SECRET_BYTES, MIN_SECRET_BYTES, InvalidSecret, decode_secret, generate_secret


def _url(url: str) -> str:
    """The schema bounds the length; the scheme and host are ours to check."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid(["body", "url"], f"{url!r} is not an http(s) URL with a host")
    return url


def given_secret(body: Mapping[str, Any], name: str) -> str:
    """The caller's secret, validated, or a fresh one (24 random bytes, as Svix makes them)."""
    given = body.get(name)
    if given is None:
        return generate_secret(secrets.token_bytes(24))
    try:
        key = decode_secret(given)
    except InvalidSecret as error:
        raise Invalid(["body", name], str(error)) from None
    if not MIN_SECRET_BYTES <= len(key) <= MAX_SECRET_BYTES:
        raise Invalid(["body", name], f"a secret holds {MIN_SECRET_BYTES} to {MAX_SECRET_BYTES} bytes, got {len(key)}")
    return given if given.startswith("whsec_") else "whsec_" + given


def _fields(body: Mapping[str, Any], *, partial: bool) -> dict[str, Any]:
    """The endpoint record fields the body sets (all of them unless ``partial``)."""
    present = (lambda name: name in body) if partial else (lambda name: True)
    out: dict[str, Any] = {}
    if present("url"):
        out["url"] = _url(body["url"])
    if present("description"):
        out["description"] = body.get("description") or ""
    if present("disabled"):
        out["disabled"] = bool(body.get("disabled"))
    if present("eventTypes") or "filterTypes" in body:
        out["filter_types"] = _event_types(body)
    if present("channels"):
        out["channels"] = body.get("channels") or []
    if present("throttleRate"):
        out["rate_limit"] = body.get("throttleRate")
    if present("uid"):
        out["uid"] = body.get("uid")
    if present("metadata"):
        out["metadata"] = params.string_map(body, "metadata") or {}
    if not partial and "headers" in body:
        out["headers"] = params.custom_headers(body, "headers") or {}
    return out


def _event_types(body: Mapping[str, Any]) -> list[str]:
    """``eventTypes``, or ``filterTypes``: the name Svix's API used for years and still accepts as an alias."""
    given = {name: body[name] or [] for name in ("eventTypes", "filterTypes") if name in body}
    if len(given) == 2 and sorted(given["eventTypes"]) != sorted(given["filterTypes"]):
        raise Invalid(["body", "filterTypes"], "filterTypes is another name for eventTypes: send one, or the same list")
    return next(iter(given.values()), [])


def _check_uid_free(ctx: ApiContext, app_id: uuid.UUID, uid: str | None, endpoint_id: uuid.UUID | None) -> None:
    holder = ctx.records.endpoint_by_uid(app_id, uid) if uid else None
    if holder is not None and uuid.UUID(holder["endpoint_id"]) != endpoint_id:
        raise conflict(f"an endpoint with uid {uid!r} already exists in this application")


def _check_room(ctx: ApiContext, app_id: uuid.UUID) -> None:
    cap = ctx.settings.api_max_endpoints_per_app
    if len(ctx.records.endpoints_of(app_id)) >= cap:
        raise Invalid(["path", "app_id"], f"this application already has the most endpoints allowed ({cap}: "
                      "api_max_endpoints_per_app)", "value_error.too_many_endpoints")  # fmt: skip


def _new(ctx: ApiContext, app_id: uuid.UUID, body: Mapping[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
    """A new endpoint's fields (``Commands.upsert`` adds the version and times)."""
    return {
        "endpoint_id": str(generate_id()), "app_id": str(app_id), "description": "", "disabled": False,
        "filter_types": [], "channels": [], "payload_filter": None, "headers": {}, "rate_limit": None, "uid": None,
        "metadata": {}, **fields, "secrets": [ctx.box.sealed(given_secret(body, "secret"), datetime.now(UTC))],
    }  # fmt: skip


def _checked_new(ctx: ApiContext, app_id: uuid.UUID, body: Mapping[str, Any], fields: dict[str, Any]) -> Record:
    _check_uid_free(ctx, app_id, fields.get("uid"), None)
    _check_room(ctx, app_id)
    return _new(ctx, app_id, body, fields)


async def create(request: web.Request) -> web.Response:
    ctx = request.app[API_CONTEXT]
    app_ref = read_params(request, CREATE)["app_id"]
    body = await read_body(request, CREATE)
    fields = _fields(body, partial=False)
    app_id = uuid.UUID((await lookup.application(ctx, app_ref))["app_id"])

    async def absent() -> None:
        await lookup.application(ctx, app_ref)  # deleted meanwhile: 404

    written = await ctx.commands.upsert(ENDPOINT, absent, lambda _: _checked_new(ctx, app_id, body, fields))
    return web.json_response(endpoint_out(written.record), status=201)


async def list_endpoints(request: web.Request) -> web.Response:
    ctx = request.app[API_CONTEXT]
    query = read_params(request, LIST)
    app = await lookup.application(ctx, query["app_id"])
    records = ctx.records.endpoints_of(uuid.UUID(app["app_id"]))
    items, page = id_page(records, "endpoint_id", query, IdKind.ENDPOINT, query["limit"])
    return web.json_response(id_list_response([endpoint_out(r) for r in items], page))


async def target(ctx: ApiContext, path: Mapping[str, Any]) -> tuple[uuid.UUID, dict[str, Any]]:
    """The endpoint the path's ``app_id`` and ``endpoint_id`` (as ``read_params`` read them) name, or 404."""
    app = await lookup.application(ctx, path["app_id"])
    app_id = uuid.UUID(app["app_id"])
    return app_id, await lookup.endpoint(ctx, app_id, path["endpoint_id"])


async def get(request: web.Request) -> web.Response:
    _, record = await target(request.app[API_CONTEXT], read_params(request, GET))
    return web.json_response(endpoint_out(record))


async def update(request: web.Request) -> web.Response:
    """PUT: replace the endpoint's settings (its secrets stay), or create it with the path as uid."""
    ctx = request.app[API_CONTEXT]
    path = read_params(request, UPDATE)
    body = await read_body(request, UPDATE)
    fields = _fields(body, partial=False)
    ref_ = path["endpoint_id"]
    app_id = uuid.UUID((await lookup.application(ctx, path["app_id"]))["app_id"])

    def change(current: Record | None) -> Record:
        if current is None:
            if params.id_or_ref(ref_, IdKind.ENDPOINT) is not None:
                raise not_found("Endpoint")
            return _checked_new(ctx, app_id, body, {**fields, "uid": fields.get("uid") or ref_})
        _check_uid_free(ctx, app_id, fields.get("uid"), uuid.UUID(current["endpoint_id"]))
        return {"headers": current["headers"], **fields}

    written = await ctx.commands.upsert(ENDPOINT, lambda: lookup.find_endpoint_fresh(ctx, app_id, ref_), change)
    return web.json_response(endpoint_out(written.record), status=201 if written.created else 200)


def reader(ctx: ApiContext, path: Mapping[str, Any]) -> Read:
    """The fresh read of the endpoint the path names (404 when there is none), for ``Commands``."""

    async def read() -> Record:
        return (await target(ctx, path))[1]

    return read


async def patch(request: web.Request) -> web.Response:
    ctx = request.app[API_CONTEXT]
    path = read_params(request, PATCH)
    fields = _fields(await read_body(request, PATCH), partial=True)

    def change(current: Record | None) -> Record:
        assert current is not None
        _check_uid_free(ctx, uuid.UUID(current["app_id"]), fields.get("uid"), uuid.UUID(current["endpoint_id"]))
        return fields

    written = await ctx.commands.upsert(ENDPOINT, reader(ctx, path), change)
    return web.json_response(endpoint_out(written.record))


async def delete(request: web.Request) -> web.Response:
    ctx = request.app[API_CONTEXT]
    await ctx.commands.delete(ENDPOINT, reader(ctx, read_params(request, DELETE)))
    return web.Response(status=204)


_OUT = ref("EndpointOut")
MISSING = {404: Response("no such application or endpoint", ref("HttpError"))}
ONE = (APP_ID, ENDPOINT_ID)
_BASE = "/app/{app_id}/endpoint"
ONE_PATH = _BASE + "/{endpoint_id}"
LIST = Operation(
    "GET",
    _BASE,
    list_endpoints,
    "v1.endpoint.list",
    "List an application's endpoints",
    params=(APP_ID, *PAGE, ORDER),
    responses={200: Response("a page of endpoints", list_of("EndpointOut")), **MISSING},
)
CREATE = Operation(
    "POST",
    _BASE,
    create,
    "v1.endpoint.create",
    "Create an endpoint",
    params=(APP_ID, IDEMPOTENCY_KEY),
    body=endpoint_in(),
    responses={201: Response("created", _OUT), **MISSING},
)
GET = Operation(
    "GET",
    ONE_PATH,
    get,
    "v1.endpoint.get",
    "Get an endpoint",
    params=ONE,
    responses={200: Response("the endpoint", _OUT), **MISSING},
)
UPDATE = Operation(
    "PUT",
    ONE_PATH,
    update,
    "v1.endpoint.update",
    "Update an endpoint (create it: the path is its uid)",
    params=ONE,
    body=endpoint_in(),
    responses={200: Response("updated", _OUT), 201: Response("created", _OUT), **MISSING},
)
PATCH = Operation(
    "PATCH",
    ONE_PATH,
    patch,
    "v1.endpoint.patch",
    "Change some of an endpoint",
    params=ONE,
    body=endpoint_in(partial=True),
    responses={200: Response("updated", _OUT), **MISSING},
)
DELETE = Operation(
    "DELETE",
    ONE_PATH,
    delete,
    "v1.endpoint.delete",
    "Delete an endpoint",
    params=ONE,
    responses={204: Response("deleted"), **MISSING},
)
OPERATIONS = (LIST, CREATE, GET, UPDATE, PATCH, DELETE)

"""Svix endpoints: create, list, get (id or uid), update (PUT upsert), patch, delete, secret get/rotate, headers.

Writes are EndpointUpserted / EndpointDeleted / SecretRotated events on
``config``. Signing secrets are sealed with the deployment's SecretBox
before they reach the log and are opened only to answer ``GET .../secret``.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from hookstream.api.commands import ENDPOINT, ENDPOINT_SECRETS, Read, Record
from hookstream.api.context import API_CONTEXT, ApiContext
from hookstream.api.spec import Operation, Response, read_body, read_params
from hookstream.api.svix import lookup, params
from hookstream.api.svix.errors import Invalid, conflict, not_found
from hookstream.api.svix.pagination import id_list_response, id_page
from hookstream.api.svix.params import APP_ID, ENDPOINT_ID, IDEMPOTENCY_KEY, ORDER, PAGE, SINCE, UNTIL
from hookstream.api.svix.schemas import (
    DEFAULT_GRACE_S,
    RECOVER_IN,
    SECRET_ROTATE_IN,
    endpoint_in,
    headers_in,
    list_of,
    ref,
)
from hookstream.api.svix.shapes import endpoint_out, iso
from hookstream.domain.custom_headers import headers_problem
from hookstream.domain.ids import IdKind, generate_id, to_svix
from hookstream.domain.signing import MAX_SECRET_BYTES, MIN_SECRET_BYTES, InvalidSecret, decode_secret, generate_secret
from hookstream.query.analytics import default_window, endpoint_status_counts


def _url(url: str) -> str:
    """The schema bounds the length; the scheme and host are ours to check."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid(["body", "url"], f"{url!r} is not an http(s) URL with a host")
    return url


def _secret(body: Mapping[str, Any], name: str) -> str:
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
    if present("eventTypes"):
        out["filter_types"] = body.get("eventTypes") or []
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


def _check_uid_free(ctx: ApiContext, app_id: uuid.UUID, uid: str | None, endpoint_id: uuid.UUID | None) -> None:
    holder = ctx.directory.endpoint_by_uid(app_id, uid) if uid else None
    if holder is not None and uuid.UUID(holder["endpoint_id"]) != endpoint_id:
        raise conflict(f"an endpoint with uid {uid!r} already exists in this application")


def _check_room(ctx: ApiContext, app_id: uuid.UUID) -> None:
    cap = ctx.settings.api_max_endpoints_per_app
    if len(ctx.directory.endpoints_of(app_id)) >= cap:
        raise Invalid(["path", "app_id"], f"this application already has the most endpoints allowed ({cap}: "
                      "api_max_endpoints_per_app)", "value_error.too_many_endpoints")  # fmt: skip


def _new(ctx: ApiContext, app_id: uuid.UUID, body: Mapping[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
    """A new endpoint's fields (``Commands.upsert`` adds the version and times)."""
    return {
        "endpoint_id": str(generate_id()), "app_id": str(app_id), "description": "", "disabled": False,
        "filter_types": [], "channels": [], "payload_filter": None, "headers": {}, "rate_limit": None, "uid": None,
        "metadata": {}, **fields, "secrets": [ctx.box.sealed(_secret(body, "secret"), datetime.now(UTC))],
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
    records = ctx.directory.endpoints_of(uuid.UUID(app["app_id"]))
    items, page = id_page(records, "endpoint_id", query, IdKind.ENDPOINT, query["limit"])
    return web.json_response(id_list_response([endpoint_out(r) for r in items], page))


async def _endpoint(ctx: ApiContext, path: Mapping[str, Any]) -> tuple[uuid.UUID, dict[str, Any]]:
    """The endpoint the path's ``app_id`` and ``endpoint_id`` (as ``read_params`` read them) name, or 404."""
    app = await lookup.application(ctx, path["app_id"])
    app_id = uuid.UUID(app["app_id"])
    return app_id, await lookup.endpoint(ctx, app_id, path["endpoint_id"])


async def get(request: web.Request) -> web.Response:
    _, record = await _endpoint(request.app[API_CONTEXT], read_params(request, GET))
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


def _reader(ctx: ApiContext, path: Mapping[str, Any]) -> Read:
    """The fresh read of the endpoint the path names (404 when there is none), for ``Commands``."""

    async def read() -> Record:
        return (await _endpoint(ctx, path))[1]

    return read


async def patch(request: web.Request) -> web.Response:
    ctx = request.app[API_CONTEXT]
    path = read_params(request, PATCH)
    fields = _fields(await read_body(request, PATCH), partial=True)

    def change(current: Record | None) -> Record:
        assert current is not None
        _check_uid_free(ctx, uuid.UUID(current["app_id"]), fields.get("uid"), uuid.UUID(current["endpoint_id"]))
        return fields

    written = await ctx.commands.upsert(ENDPOINT, _reader(ctx, path), change)
    return web.json_response(endpoint_out(written.record))


async def delete(request: web.Request) -> web.Response:
    ctx = request.app[API_CONTEXT]
    await ctx.commands.delete(ENDPOINT, _reader(ctx, read_params(request, DELETE)))
    return web.Response(status=204)


async def get_secret(request: web.Request) -> web.Response:
    ctx = request.app[API_CONTEXT]
    _, record = await _endpoint(ctx, read_params(request, GET_SECRET))
    newest = record["secrets"][0]
    return web.json_response({"key": ctx.box.open(newest["ciphertext"], newest["key_id"])})


async def rotate_secret(request: web.Request) -> web.Response:
    """A new signing secret; the old ones keep signing for the grace period (default 24 h, at most 7 days)."""
    ctx = request.app[API_CONTEXT]
    path = read_params(request, ROTATE_SECRET)
    body = await read_body(request, ROTATE_SECRET)
    secret = _secret(body, "key")
    grace = body.get("gracePeriodSeconds")
    grace = DEFAULT_GRACE_S if grace is None else grace
    await ctx.commands.upsert(ENDPOINT_SECRETS, _reader(ctx, path), lambda current: {
        "secrets": ctx.box.rotated(current["secrets"], secret, datetime.now(UTC), timedelta(seconds=grace))
    })  # fmt: skip
    return web.json_response({"key": secret})


def _body_time(body: Mapping[str, Any], name: str) -> datetime | None:
    """The schema says string, format date-time; a body's formats are checked here."""
    raw = body.get(name)
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        reason = f"{name} must be an RFC 3339 date-time, got {raw!r}"
        raise Invalid(["body", name], reason, "type_error.datetime") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


async def recover(request: web.Request) -> web.Response:
    """Resend the endpoint's failed messages since ``since`` (until ``until``): a RecoverRequested command,
    fanned out into manual attempts by the schedule role (scheduler/recover.py), so a crash loses nothing."""
    ctx = request.app[API_CONTEXT]
    path = read_params(request, RECOVER)
    body = await read_body(request, RECOVER)
    since = _body_time(body, "since")
    until = _body_time(body, "until")
    now = datetime.now(UTC)
    if since is not None and since > now:
        raise Invalid(["body", "since"], "since must not be in the future")
    if until is not None and since is not None and until <= since:
        raise Invalid(["body", "until"], "until must be after since")
    app_id, endpoint = await _endpoint(ctx, path)
    request_id = generate_id()
    record = {"request_id": str(request_id), "app_id": str(app_id), "endpoint_id": endpoint["endpoint_id"],
              "since": since, "until": until, "requested_at": now}  # fmt: skip
    await ctx.commands.command("RecoverRequested", record, endpoint["endpoint_id"])
    task_id = "qtask_" + to_svix(IdKind.MESSAGE, request_id).removeprefix("msg_")
    return web.json_response(
        {"id": task_id, "status": "running", "task": "endpoint.recover", "updatedAt": iso(now)}, status=202
    )


async def get_headers(request: web.Request) -> web.Response:
    _, record = await _endpoint(request.app[API_CONTEXT], read_params(request, GET_HEADERS))
    return web.json_response({"headers": dict(record["headers"]), "sensitive": []})


async def _set_headers(request: web.Request, op: Operation, *, merge: bool) -> web.Response:
    ctx = request.app[API_CONTEXT]
    path = read_params(request, op)
    given = params.custom_headers(await read_body(request, op), "headers") or {}

    def change(current: Record | None) -> Record:
        assert current is not None
        headers = {**current["headers"], **given} if merge else dict(given)
        headers = {name: value for name, value in headers.items() if value is not None}
        if (problem := headers_problem(headers)) is not None:  # the merge can go over the count
            raise Invalid(["body", "headers"], problem)
        return {"headers": headers}

    await ctx.commands.upsert(ENDPOINT, _reader(ctx, path), change)
    return web.Response(status=204)


async def set_headers(request: web.Request) -> web.Response:
    return await _set_headers(request, SET_HEADERS, merge=False)


async def patch_headers(request: web.Request) -> web.Response:
    return await _set_headers(request, PATCH_HEADERS, merge=True)


async def stats(request: web.Request) -> web.Response:
    """Messages by delivery status at the endpoint, for messages created in [since, until) (default: 28 days)."""
    ctx = request.app[API_CONTEXT]
    query = read_params(request, STATS)
    app_id, record = await _endpoint(ctx, query)
    since, until = default_window(query["since"], query["until"], datetime.now(UTC))
    if since >= until:
        raise Invalid(["query", "since"], "since must be before until", "value_error")
    counts = await endpoint_status_counts(ctx.clickhouse, app_id, uuid.UUID(record["endpoint_id"]), since, until)
    return web.json_response({**counts, "canceled": 0})


_OUT = ref("EndpointOut")
_MISSING = {404: Response("no such application or endpoint", ref("HttpError"))}
_ONE = (APP_ID, ENDPOINT_ID)
_BASE = "/app/{app_id}/endpoint"
_ONE_PATH = _BASE + "/{endpoint_id}"
LIST = Operation(
    "GET",
    _BASE,
    list_endpoints,
    "v1.endpoint.list",
    "List an application's endpoints",
    params=(APP_ID, *PAGE, ORDER),
    responses={200: Response("a page of endpoints", list_of("EndpointOut")), **_MISSING},
)
CREATE = Operation(
    "POST",
    _BASE,
    create,
    "v1.endpoint.create",
    "Create an endpoint",
    params=(APP_ID, IDEMPOTENCY_KEY),
    body=endpoint_in(),
    responses={201: Response("created", _OUT), **_MISSING},
)
GET = Operation(
    "GET",
    _ONE_PATH,
    get,
    "v1.endpoint.get",
    "Get an endpoint",
    params=_ONE,
    responses={200: Response("the endpoint", _OUT), **_MISSING},
)
UPDATE = Operation(
    "PUT",
    _ONE_PATH,
    update,
    "v1.endpoint.update",
    "Update an endpoint (create it: the path is its uid)",
    params=_ONE,
    body=endpoint_in(),
    responses={200: Response("updated", _OUT), 201: Response("created", _OUT), **_MISSING},
)
PATCH = Operation(
    "PATCH",
    _ONE_PATH,
    patch,
    "v1.endpoint.patch",
    "Change some of an endpoint",
    params=_ONE,
    body=endpoint_in(partial=True),
    responses={200: Response("updated", _OUT), **_MISSING},
)
DELETE = Operation(
    "DELETE",
    _ONE_PATH,
    delete,
    "v1.endpoint.delete",
    "Delete an endpoint",
    params=_ONE,
    responses={204: Response("deleted"), **_MISSING},
)
GET_SECRET = Operation(
    "GET",
    _ONE_PATH + "/secret",
    get_secret,
    "v1.endpoint.get-secret",
    "The signing secret",
    params=_ONE,
    responses={200: Response("the newest secret", ref("EndpointSecretOut")), **_MISSING},
)
ROTATE_SECRET = Operation(
    "POST",
    _ONE_PATH + "/secret/rotate",
    rotate_secret,
    "v1.endpoint.rotate-secret",
    "A new signing secret; the old ones sign too for the grace period",
    params=(*_ONE, IDEMPOTENCY_KEY),
    body=SECRET_ROTATE_IN,
    responses={200: Response("the new secret", ref("EndpointSecretOut")), **_MISSING},
)
RECOVER = Operation(
    "POST",
    _ONE_PATH + "/recover",
    recover,
    "v1.endpoint.recover",
    "Resend the endpoint's failed messages since a time",
    params=(*_ONE, IDEMPOTENCY_KEY),
    body=RECOVER_IN,
    responses={202: Response("recovery started", ref("RecoverOut")), **_MISSING},
)
STATS = Operation(
    "GET",
    _ONE_PATH + "/stats",
    stats,
    "v1.endpoint.get-stats",
    "Messages by delivery status at the endpoint (default window: 28 days)",
    params=(*_ONE, SINCE, UNTIL),
    responses={200: Response("the counts", ref("EndpointStats")), **_MISSING},
)
GET_HEADERS = Operation(
    "GET",
    _ONE_PATH + "/headers",
    get_headers,
    "v1.endpoint.get-headers",
    "The custom headers",
    params=_ONE,
    responses={200: Response("the headers", ref("EndpointHeadersOut")), **_MISSING},
)
SET_HEADERS = Operation(
    "PUT",
    _ONE_PATH + "/headers",
    set_headers,
    "v1.endpoint.update-headers",
    "Replace the custom headers",
    params=_ONE,
    body=headers_in(patch=False),
    responses={204: Response("replaced"), **_MISSING},
)
PATCH_HEADERS = Operation(
    "PATCH",
    _ONE_PATH + "/headers",
    patch_headers,
    "v1.endpoint.patch-headers",
    "Change some custom headers (null removes one)",
    params=_ONE,
    body=headers_in(patch=True),
    responses={204: Response("changed"), **_MISSING},
)
OPERATIONS = (
    LIST,
    CREATE,
    GET,
    UPDATE,
    PATCH,
    DELETE,
    GET_SECRET,
    ROTATE_SECRET,
    RECOVER,
    STATS,
    GET_HEADERS,
    SET_HEADERS,
    PATCH_HEADERS,
)

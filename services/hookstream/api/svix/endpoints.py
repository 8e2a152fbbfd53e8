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

from hookstream.api.context import API_CONTEXT, ApiContext
from hookstream.api.svix import lookup, params
from hookstream.api.svix.errors import Invalid, conflict, not_found
from hookstream.api.svix.pagination import id_list_response, id_page
from hookstream.api.svix.shapes import endpoint_out
from hookstream.domain.ids import IdKind, generate_id
from hookstream.domain.signing import MAX_SECRET_BYTES, MIN_SECRET_BYTES, InvalidSecret, decode_secret, generate_secret

DEFAULT_GRACE_S = 24 * 3600
MAX_GRACE_S = 7 * 24 * 3600


def _url(body: Mapping[str, Any], *, required: bool) -> str | None:
    url = params.field(body, "url", str, required=required)
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid(["body", "url"], f"{url!r} is not an http(s) URL with a host")
    return url


def _secret(body: Mapping[str, Any], name: str) -> str:
    """The caller's secret, validated, or a fresh one (24 random bytes, as Svix makes them)."""
    given = params.field(body, name, str)
    if given is None:
        return generate_secret(secrets.token_bytes(24))
    try:
        key = decode_secret(given)
    except InvalidSecret as error:
        raise Invalid(["body", name], str(error)) from None
    if not MIN_SECRET_BYTES <= len(key) <= MAX_SECRET_BYTES:
        raise Invalid(["body", name], f"a secret holds {MIN_SECRET_BYTES} to {MAX_SECRET_BYTES} bytes, got {len(key)}")
    return given if given.startswith("whsec_") else "whsec_" + given


def _sealed(ctx: ApiContext, secret: str, now: datetime) -> dict[str, Any]:
    ciphertext, key_id = ctx.box.seal(secret)
    return {"ciphertext": ciphertext, "key_id": key_id, "created_at": now, "expires_at": None}


def _fields(body: Mapping[str, Any], *, partial: bool) -> dict[str, Any]:
    """The endpoint record fields the body sets (all of them unless ``partial``)."""
    present = (lambda name: name in body) if partial else (lambda name: True)
    out: dict[str, Any] = {}
    if present("url"):
        out["url"] = _url(body, required=True)
    if present("description"):
        out["description"] = params.field(body, "description", str) or ""
    if present("disabled"):
        out["disabled"] = bool(params.field(body, "disabled", bool))
    if present("eventTypes"):
        out["filter_types"] = params.name_list(body, "eventTypes") or []
    if present("channels"):
        out["channels"] = params.name_list(body, "channels") or []
    if present("throttleRate"):
        rate = params.field(body, "throttleRate", int)
        if rate is not None and rate < 0:
            raise Invalid(["body", "throttleRate"], "throttleRate must be at least 0")
        out["rate_limit"] = rate
    if present("uid"):
        out["uid"] = params.uid(body)
    if present("metadata"):
        out["metadata"] = params.string_map(body, "metadata") or {}
    if not partial and "headers" in body:
        out["headers"] = params.string_map(body, "headers") or {}
    return out


def _check_uid_free(ctx: ApiContext, app_id: uuid.UUID, uid: str | None, endpoint_id: uuid.UUID | None) -> None:
    holder = ctx.directory.endpoint_by_uid(app_id, uid) if uid else None
    if holder is not None and uuid.UUID(holder["endpoint_id"]) != endpoint_id:
        raise conflict(f"an endpoint with uid {uid!r} already exists in this application")


def _new(ctx: ApiContext, app_id: uuid.UUID, body: Mapping[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "endpoint_id": str(generate_id()), "app_id": str(app_id), "description": "", "disabled": False,
        "filter_types": [], "channels": [], "payload_filter": None, "headers": {}, "rate_limit": None, "uid": None,
        "metadata": {}, **fields, "secrets": [_sealed(ctx, _secret(body, "secret"), now)], "version": 1,
        "created_at": now, "updated_at": now,
    }  # fmt: skip


async def _write(ctx: ApiContext, record: dict[str, Any]) -> dict[str, Any]:
    await ctx.commands.config("EndpointUpserted", record, record["endpoint_id"])
    return record


async def create(request: web.Request) -> web.Response:
    ctx = request.app[API_CONTEXT]
    body = await params.json_body(request)
    fields = _fields(body, partial=False)
    async with ctx.commands.config_lock:
        app = await lookup.application(ctx, request.match_info["app_id"])
        app_id = uuid.UUID(app["app_id"])
        _check_uid_free(ctx, app_id, fields.get("uid"), None)
        record = await _write(ctx, _new(ctx, app_id, body, fields))
    return web.json_response(endpoint_out(record), status=201)


async def list_endpoints(request: web.Request) -> web.Response:
    ctx = request.app[API_CONTEXT]
    app = await lookup.application(ctx, request.match_info["app_id"])
    limit = params.limit(request.query)
    records = ctx.directory.endpoints_of(uuid.UUID(app["app_id"]))
    items, page = id_page(records, "endpoint_id", request.query, IdKind.ENDPOINT, limit)
    return web.json_response(id_list_response([endpoint_out(r) for r in items], page))


async def _endpoint(ctx: ApiContext, request: web.Request) -> tuple[uuid.UUID, dict[str, Any]]:
    app = await lookup.application(ctx, request.match_info["app_id"])
    app_id = uuid.UUID(app["app_id"])
    return app_id, await lookup.endpoint(ctx, app_id, request.match_info["endpoint_id"])


async def get(request: web.Request) -> web.Response:
    _, record = await _endpoint(request.app[API_CONTEXT], request)
    return web.json_response(endpoint_out(record))


async def update(request: web.Request) -> web.Response:
    """PUT: replace the endpoint's settings (its secrets stay), or create it with the path as uid."""
    ctx = request.app[API_CONTEXT]
    body = await params.json_body(request)
    fields = _fields(body, partial=False)
    ref = request.match_info["endpoint_id"]
    async with ctx.commands.config_lock:
        app = await lookup.application(ctx, request.match_info["app_id"])
        app_id = uuid.UUID(app["app_id"])
        await ctx.cache.catch_up()
        current = lookup.find_endpoint(ctx, app_id, ref)
        if current is None:
            if params.id_or_ref(ref, IdKind.ENDPOINT) is not None:
                raise not_found("Endpoint")
            fields["uid"] = fields.get("uid") or ref
            _check_uid_free(ctx, app_id, fields["uid"], None)
            record = await _write(ctx, _new(ctx, app_id, body, fields))
            return web.json_response(endpoint_out(record), status=201)
        _check_uid_free(ctx, app_id, fields.get("uid"), uuid.UUID(current["endpoint_id"]))
        fields.setdefault("headers", current["headers"])
        record = {**current, **fields, "version": current["version"] + 1, "updated_at": datetime.now(UTC)}
        await _write(ctx, record)
    return web.json_response(endpoint_out(record))


async def patch(request: web.Request) -> web.Response:
    ctx = request.app[API_CONTEXT]
    body = await params.json_body(request)
    fields = _fields(body, partial=True)
    async with ctx.commands.config_lock:
        app_id, current = await _endpoint(ctx, request)
        _check_uid_free(ctx, app_id, fields.get("uid"), uuid.UUID(current["endpoint_id"]))
        record = {**current, **fields, "version": current["version"] + 1, "updated_at": datetime.now(UTC)}
        await _write(ctx, record)
    return web.json_response(endpoint_out(record))


async def delete(request: web.Request) -> web.Response:
    ctx = request.app[API_CONTEXT]
    async with ctx.commands.config_lock:
        _, current = await _endpoint(ctx, request)
        record = {"endpoint_id": current["endpoint_id"], "app_id": current["app_id"], "uid": current.get("uid"),
                  "version": current["version"] + 1, "deleted_at": datetime.now(UTC)}  # fmt: skip
        await ctx.commands.config("EndpointDeleted", record, current["endpoint_id"])
    return web.Response(status=204)


async def get_secret(request: web.Request) -> web.Response:
    ctx = request.app[API_CONTEXT]
    _, record = await _endpoint(ctx, request)
    newest = record["secrets"][0]
    return web.json_response({"key": ctx.box.open(newest["ciphertext"], newest["key_id"])})


async def rotate_secret(request: web.Request) -> web.Response:
    """A new signing secret; the old ones keep signing for the grace period (default 24 h, at most 7 days)."""
    ctx = request.app[API_CONTEXT]
    body = await params.json_body(request)
    secret = _secret(body, "key")
    grace = params.field(body, "gracePeriodSeconds", int)
    grace = DEFAULT_GRACE_S if grace is None else grace
    if not 0 <= grace <= MAX_GRACE_S:
        raise Invalid(["body", "gracePeriodSeconds"], f"gracePeriodSeconds must be between 0 and {MAX_GRACE_S}")
    async with ctx.commands.config_lock:
        _, current = await _endpoint(ctx, request)
        now = datetime.now(UTC)
        until = now + timedelta(seconds=grace)
        kept = [
            {**old, "expires_at": min(old["expires_at"] or until, until)}
            for old in current["secrets"]
            if old["expires_at"] is None or old["expires_at"] > now
        ]
        record = {"endpoint_id": current["endpoint_id"], "app_id": current["app_id"],
                  "secrets": [_sealed(ctx, secret, now), *kept], "version": current["version"] + 1,
                  "rotated_at": now}  # fmt: skip
        await ctx.commands.config("SecretRotated", record, f"{current['endpoint_id']}:secrets")
    return web.json_response({"key": secret})


async def get_headers(request: web.Request) -> web.Response:
    _, record = await _endpoint(request.app[API_CONTEXT], request)
    return web.json_response({"headers": dict(record["headers"]), "sensitive": []})


async def _set_headers(request: web.Request, *, merge: bool) -> web.Response:
    ctx = request.app[API_CONTEXT]
    body = await params.json_body(request)
    given = params.field(body, "headers", dict, required=True)
    if not all(isinstance(v, str) or (merge and v is None) for v in given.values()):
        raise Invalid(["body", "headers"], "header values must be strings" + (" or null" if merge else ""))
    async with ctx.commands.config_lock:
        _, current = await _endpoint(ctx, request)
        headers = {**current["headers"], **given} if merge else dict(given)
        headers = {name: value for name, value in headers.items() if value is not None}
        record = {**current, "headers": headers, "version": current["version"] + 1, "updated_at": datetime.now(UTC)}
        await _write(ctx, record)
    return web.Response(status=204)


async def set_headers(request: web.Request) -> web.Response:
    return await _set_headers(request, merge=False)


async def patch_headers(request: web.Request) -> web.Response:
    return await _set_headers(request, merge=True)


ROUTES = [
    ("GET", "/app/{app_id}/endpoint", list_endpoints),
    ("POST", "/app/{app_id}/endpoint", create),
    ("GET", "/app/{app_id}/endpoint/{endpoint_id}", get),
    ("PUT", "/app/{app_id}/endpoint/{endpoint_id}", update),
    ("PATCH", "/app/{app_id}/endpoint/{endpoint_id}", patch),
    ("DELETE", "/app/{app_id}/endpoint/{endpoint_id}", delete),
    ("GET", "/app/{app_id}/endpoint/{endpoint_id}/secret", get_secret),
    ("POST", "/app/{app_id}/endpoint/{endpoint_id}/secret/rotate", rotate_secret),
    ("GET", "/app/{app_id}/endpoint/{endpoint_id}/headers", get_headers),
    ("PUT", "/app/{app_id}/endpoint/{endpoint_id}/headers", set_headers),
    ("PATCH", "/app/{app_id}/endpoint/{endpoint_id}/headers", patch_headers),
]

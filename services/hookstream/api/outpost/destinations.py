"""Outpost webhook destinations: create, list, get, update, delete, enable, disable. A destination is an endpoint.

``topics`` are the endpoint's event types (``"*"``: every type), ``filter``
its payload filter (domain/payload_filter.py, Outpost's operators),
``config.url`` its URL, ``config.custom_headers`` (a JSON object as a
string) its headers, ``delivery_metadata`` more headers on every attempt
(``x-outpost-<key>``, Outpost's default prefix), ``credentials.secret`` its
signing secret, sealed with the deployment's SecretBox before it reaches the log. A given ``id`` becomes
the endpoint's ``uid``. Writes are EndpointUpserted / EndpointDeleted.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from hookstream.api.commands import ENDPOINT, Read, Record
from hookstream.api.context import API_CONTEXT, ApiContext
from hookstream.api.outpost import lookup
from hookstream.api.outpost.errors import OutpostError, invalid
from hookstream.api.outpost.shapes import ALL_TOPICS, destination_out, ref, topics_of
from hookstream.api.outpost.tenants import NAME_PATTERN, TENANT_ID
from hookstream.api.spec import Operation, Param, Response, read_body, read_params
from hookstream.domain.custom_headers import METADATA_PREFIX, headers_problem
from hookstream.domain.ids import generate_id
from hookstream.domain.matching import InvalidFilter, validate_filter
from hookstream.domain.signing import MAX_SECRET_BYTES, MIN_SECRET_BYTES, InvalidSecret, decode_secret, generate_secret

ROTATION_GRACE = timedelta(hours=24)
DESTINATION_ID = Param("destination_id", "path", {"type": "string", "minLength": 1}, True, "the destination's id")
_TOPIC = {"type": "string", "pattern": r"^(\*|[a-zA-Z0-9\-_.]{1,256})$"}
_TOPICS = {"anyOf": [{"const": ALL_TOPICS}, {"type": "array", "items": _TOPIC, "minItems": 1}]}
_NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}
_CREDENTIALS = {"type": "object", "additionalProperties": False, "properties": {
    "secret": {"type": "string"}, "rotate_secret": {"type": "boolean"},
    "previous_secret": {"type": "string"}, "previous_secret_invalid_at": {"type": "string"}}}  # fmt: skip
_COMMON = {
    "type": {"enum": ["webhook"], "description": "hookstream delivers to webhook destinations only"},
    "topics": _TOPICS, "filter": {"type": ["object", "null"]}, "credentials": _CREDENTIALS,
    "disabled_at": _NULLABLE_TIME,
}  # fmt: skip
_CONFIG = {"type": "object", "additionalProperties": False,
           "properties": {"url": {"type": "string", "minLength": 1}, "custom_headers": {"type": "string"}}}  # fmt: skip
CREATE_BODY = {
    "type": "object", "required": ["type", "topics", "config"], "additionalProperties": False,
    "properties": {**_COMMON, "id": {"type": "string", "pattern": NAME_PATTERN},
                   "config": {**_CONFIG, "required": ["url"]},
                   "metadata": {"type": ["object", "null"], "additionalProperties": {"type": "string"}},
                   "delivery_metadata": {"type": ["object", "null"], "additionalProperties": {"type": "string"}},
                   "created_at": _NULLABLE_TIME, "updated_at": _NULLABLE_TIME},
}  # fmt: skip
UPDATE_BODY = {
    "type": "object", "required": ["type"], "additionalProperties": False,
    "properties": {**_COMMON, "config": _CONFIG,
                   "metadata": {"type": ["object", "null"], "additionalProperties": {"type": ["string", "null"]}},
                   "delivery_metadata": {"type": ["object", "null"],
                                         "additionalProperties": {"type": ["string", "null"]}}},
}  # fmt: skip


def _url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise invalid("config.url", f"{url!r} is not an http(s) URL with a host")
    return url


def _headers(raw: str) -> dict[str, str]:
    try:
        headers = json.loads(raw)
    except ValueError:
        raise invalid("config.custom_headers", "is not a JSON object") from None
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        raise invalid("config.custom_headers", "must be a JSON object of string values")
    if (problem := headers_problem(headers)) is not None:
        raise invalid("config.custom_headers", problem)
    return headers


def _secret(given: str | None) -> str:
    if given is None:
        return generate_secret(secrets.token_bytes(24))
    try:
        key = decode_secret(given)
    except InvalidSecret as error:
        raise invalid("credentials.secret", str(error)) from None
    if not MIN_SECRET_BYTES <= len(key) <= MAX_SECRET_BYTES:
        raise invalid("credentials.secret", f"must hold {MIN_SECRET_BYTES} to {MAX_SECRET_BYTES} bytes, got {len(key)}")
    return given if given.startswith("whsec_") else "whsec_" + given


def _topics(ctx: ApiContext, topics: str | list[str]) -> list[str]:
    """Event types of the endpoint; when topics are configured (event types exist) each must be one of them."""
    if topics == ALL_TOPICS:
        return [ALL_TOPICS]
    configured = ctx.records.topics()
    for topic in topics:
        if configured and topic != ALL_TOPICS and topic not in configured:
            raise invalid("topics", f"{topic!r} is not a configured topic (GET /topics lists them)")
    return list(dict.fromkeys(topics))


def _fields(ctx: ApiContext, body: Mapping[str, Any]) -> dict[str, Any]:
    """The endpoint record fields the body sets (only those present: update is a partial change)."""
    for name in ("previous_secret", "previous_secret_invalid_at"):
        if name in (body.get("credentials") or {}):
            raise invalid(f"credentials.{name}", "is set by rotating the secret, not written")
    given = {METADATA_PREFIX + k: v for k, v in (body.get("delivery_metadata") or {}).items() if v is not None}
    problem = headers_problem(given) if given else None
    if problem:
        raise invalid("delivery_metadata", f"is sent as x-outpost-<key> headers: {problem}")
    fields: dict[str, Any] = {}
    if "topics" in body:
        fields["filter_types"] = _topics(ctx, body["topics"])
    if "filter" in body:
        try:
            if body["filter"]:
                validate_filter(body["filter"])
        except InvalidFilter as error:
            raise invalid(f"filter ({error.path})", error.problem) from None
        fields["payload_filter"] = json.dumps(body["filter"], separators=(",", ":")) if body["filter"] else None
    config = body.get("config") or {}
    if "url" in config:
        fields["url"] = _url(config["url"])
    if "custom_headers" in config:
        fields["headers"] = _headers(config["custom_headers"])
    if "disabled_at" in body:
        fields["disabled"] = body["disabled_at"] is not None
    return fields


def _given_time(raw: str) -> datetime:
    """A time from the body; without an offset it is UTC (as the log stores it, so a write reads back the same)."""
    value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def render(ctx: ApiContext, app: dict[str, Any], endpoint: dict[str, Any]) -> dict[str, Any]:
    now = datetime.now(UTC)
    opened = [(ctx.box.open(s["ciphertext"], s["key_id"]), s["expires_at"])
              for s in endpoint["secrets"] if s["expires_at"] is None or s["expires_at"] > now]  # fmt: skip
    return destination_out(app, endpoint, opened)


async def create(request: web.Request) -> web.Response:
    ctx = request.app[API_CONTEXT]
    params = read_params(request, CREATE)
    await lookup.tenant(ctx, request, params["tenant_id"])  # another tenant's id is a 404 before the body is judged
    body = await read_body(request, CREATE)
    fields = _fields(ctx, body)
    secret = _secret((body.get("credentials") or {}).get("secret"))
    app = await lookup.tenant(ctx, request, params["tenant_id"])
    app_id = lookup.app_uuid(app)
    created = _given_time(body["created_at"]) if body.get("created_at") else None

    async def absent() -> None:
        await lookup.tenant(ctx, request, params["tenant_id"])  # deleted meanwhile: 404
        if body.get("id") and lookup.find_destination(ctx, app_id, body["id"]) is not None:
            # 400, as Outpost's server answers a taken id (tenantstore.ErrDuplicateDestination)
            raise OutpostError(400, f"destination already exists: the tenant has a destination {body['id']!r}")

    def new(_: Record | None) -> Record:
        now = datetime.now(UTC)
        return {
            "endpoint_id": str(generate_id()), "app_id": str(app_id), "description": "", "disabled": False,
            "filter_types": [], "channels": [], "payload_filter": None, "headers": {}, "rate_limit": None,
            "uid": body.get("id"), "metadata": body.get("metadata") or {},
            "delivery_metadata": body.get("delivery_metadata") or {}, **fields,
            "secrets": [ctx.box.sealed(secret, now)], **({"created_at": created} if created else {}),
        }  # fmt: skip

    record = (await ctx.commands.upsert(ENDPOINT, absent, new)).record
    return web.json_response(render(ctx, app, record), status=201)


async def list_destinations(request: web.Request) -> web.Response:
    """Every destination of the tenant, oldest first; ``type`` and ``topics`` narrow the list."""
    ctx = request.app[API_CONTEXT]
    params = read_params(request, LIST)
    app = await lookup.tenant(ctx, request, params["tenant_id"])
    endpoints = sorted(ctx.records.endpoints_of(lookup.app_uuid(app)), key=lambda r: uuid.UUID(r["endpoint_id"]).int)
    if params["type"] and "webhook" not in params["type"]:
        endpoints = []
    if params["topics"]:
        wanted = set(params["topics"])
        endpoints = [e for e in endpoints if topics_of(e) == ALL_TOPICS or wanted & set(topics_of(e))]
    return web.json_response([render(ctx, app, endpoint) for endpoint in endpoints])


async def _target(ctx: ApiContext, request: web.Request, op: Operation) -> tuple[dict[str, Any], dict[str, Any]]:
    params = read_params(request, op)
    app = await lookup.tenant(ctx, request, params["tenant_id"])
    return app, await lookup.destination(ctx, lookup.app_uuid(app), params["destination_id"])


async def get(request: web.Request) -> web.Response:
    ctx = request.app[API_CONTEXT]
    app, endpoint = await _target(ctx, request, GET)
    return web.json_response(render(ctx, app, endpoint))


def _reader(ctx: ApiContext, request: web.Request, op: Operation) -> Read:
    """The fresh read of the destination the path names (404 when there is none), for ``Commands``."""

    async def read() -> Record:
        return (await _target(ctx, request, op))[1]

    return read


async def _change(request: web.Request, op: Operation, changes: dict[str, Any]) -> web.Response:
    ctx = request.app[API_CONTEXT]
    app, _ = await _target(ctx, request, op)
    written = await ctx.commands.upsert(ENDPOINT, _reader(ctx, request, op), lambda _: changes)
    return web.json_response(render(ctx, app, written.record))


async def update(request: web.Request) -> web.Response:
    """PATCH: fields present replace (``filter`` null or ``{}`` clears), ``metadata`` and ``delivery_metadata``
    keys set to null go away,
    a new ``credentials.secret`` or ``rotate_secret`` rotates (the old secret signs for 24 h more)."""
    ctx = request.app[API_CONTEXT]
    app, _ = await _target(ctx, request, UPDATE)  # another tenant's ids are a 404 before the body is judged
    body = await read_body(request, UPDATE)
    changes = _fields(ctx, body)
    credentials = body.get("credentials") or {}
    rotate = bool(credentials.get("secret") or credentials.get("rotate_secret"))
    secret = _secret(credentials.get("secret")) if rotate else None

    def change(current: Record | None) -> Record:
        assert current is not None
        fields = dict(changes)
        for name in ("metadata", "delivery_metadata"):  # merge-patch, as Outpost does both
            if name in body:
                given = body[name]
                merged = {**(current.get(name) or {}), **(given or {})} if given is not None else {}
                fields[name] = {k: v for k, v in merged.items() if v is not None}
        if secret is not None:
            fields["secrets"] = ctx.box.rotated(current["secrets"], secret, datetime.now(UTC), ROTATION_GRACE)
        return fields

    written = await ctx.commands.upsert(ENDPOINT, _reader(ctx, request, UPDATE), change)
    return web.json_response(render(ctx, app, written.record))


async def delete(request: web.Request) -> web.Response:
    ctx = request.app[API_CONTEXT]
    await ctx.commands.delete(ENDPOINT, _reader(ctx, request, DELETE))
    return web.json_response({"success": True})


async def enable(request: web.Request) -> web.Response:
    return await _change(request, ENABLE, {"disabled": False})


async def disable(request: web.Request) -> web.Response:
    return await _change(request, DISABLE, {"disabled": True})


_ONE = "/tenants/{tenant_id}/destinations/{destination_id}"
_IDS = (TENANT_ID, DESTINATION_ID)
_FOUND = {200: Response("the destination", ref("Destination")), 404: Response("no such tenant or destination")}
_ARRAY = {"type": "array", "items": {"type": "string"}}
LIST = Operation(
    "GET", "/tenants/{tenant_id}/destinations", list_destinations, "listTenantDestinations", "List destinations",
    params=(TENANT_ID, Param("type", "query", _ARRAY), Param("topics", "query", _ARRAY)),
    responses={200: Response("the destinations", {"type": "array", "items": ref("Destination")})},
)  # fmt: skip
CREATE = Operation(
    "POST", "/tenants/{tenant_id}/destinations", create, "createTenantDestination", "Create a webhook destination",
    params=(TENANT_ID,), body=CREATE_BODY,
    responses={201: Response("created", ref("Destination")), 400: Response("the id is taken")},
)  # fmt: skip
GET = Operation("GET", _ONE, get, "getTenantDestination", "Get a destination", params=_IDS, responses=_FOUND)
UPDATE = Operation("PATCH", _ONE, update, "updateTenantDestination", "Update a destination", params=_IDS,
                   body=UPDATE_BODY, responses=_FOUND)  # fmt: skip
DELETE = Operation("DELETE", _ONE, delete, "deleteTenantDestination", "Delete a destination", params=_IDS,
                   responses={200: Response("deleted", ref("Success"))})  # fmt: skip
ENABLE = Operation("PUT", _ONE + "/enable", enable, "enableTenantDestination", "Enable a destination", params=_IDS,
                   responses=_FOUND)  # fmt: skip
DISABLE = Operation("PUT", _ONE + "/disable", disable, "disableTenantDestination", "Disable a destination",
                    params=_IDS, responses=_FOUND)  # fmt: skip
OPERATIONS = (LIST, CREATE, GET, UPDATE, DELETE, ENABLE, DISABLE)

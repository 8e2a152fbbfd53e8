"""Outpost attempts: lists (all of a tenant's, or one destination's), get one, and manual retry.

``include`` adds, per attempt, the event (``event``: its summary,
``event.data``: with the payload), the response (``response_data``: status,
body, headers; read from ClickHouse only when asked) and the destination
(``destination``, its credentials empty). A retry is a manual DeliveryTask
(api/resend.py), recorded as an attempt with ``manual: true``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from hookstream.api.auth import scope_of
from hookstream.api.context import API_CONTEXT, ApiContext
from hookstream.api.outpost import cursors, lookup
from hookstream.api.outpost.errors import OutpostError, not_found
from hookstream.api.outpost.events import TENANT
from hookstream.api.outpost.shapes import attempt_out, event_out, ref
from hookstream.api.outpost.tenants import TENANT_ID
from hookstream.api.resend import send_manual_task
from hookstream.api.spec import Operation, Param, Response, read_body, read_params
from hookstream.domain.ids import IdKind, InvalidId, as_uuid, parse_id, timestamp_ms
from hookstream.query.attempts import AttemptFilter, find_attempt, list_attempts
from hookstream.query.messages import tags_and_payloads

INCLUDES = ["event", "event.data", "response_data", "destination"]
# What an Outpost attempt shows (shapes.attempt_out, _event, render): read only these; response_data adds the content.
COLUMNS = ("msg_id", "endpoint_id", "event_type", "event_id", "status", "response_status", "error_class",
           "attempt_number", "trigger", "total_us")  # fmt: skip
_ARRAY = {"type": "array", "items": {"type": "string"}}
INCLUDE = Param("include", "query", {"type": "array", "items": {"type": "string", "enum": INCLUDES}})
_FILTERS = (
    Param("event_id", "query", _ARRAY),
    Param("status", "query", {"type": "string", "enum": ["success", "failed"]}),
    Param("topic", "query", _ARRAY), *cursors.TIME_PARAMS, cursors.LIMIT, *cursors.PARAMS, INCLUDE,
)  # fmt: skip


async def render(ctx: ApiContext, app: dict[str, Any], rows: list[dict[str, Any]], include: set[str]) -> list[dict]:
    app_id = lookup.app_uuid(app)
    messages: dict[uuid.UUID, dict[str, Any]] = {}
    if include & {"event", "event.data"}:
        msg_ids = list({uuid.UUID(str(row["msg_id"])) for row in rows})
        messages = await tags_and_payloads(ctx.clickhouse, app_id, msg_ids, with_content="event.data" in include)
    out = []
    destinations: dict[Any, tuple[dict[str, Any] | None, str]] = {}  # a page's rows share a few endpoints
    for row in rows:
        if row["endpoint_id"] not in destinations:
            endpoint = ctx.records.endpoint(app_id, as_uuid(row["endpoint_id"]))
            destinations[row["endpoint_id"]] = (
                endpoint, lookup.destination_id(endpoint or {"endpoint_id": str(row["endpoint_id"])})
            )  # fmt: skip
        endpoint, destination = destinations[row["endpoint_id"]]
        event = None
        if include & {"event", "event.data"}:
            event = _event(ctx, app, row, messages.get(uuid.UUID(str(row["msg_id"]))), destination, include)
        out.append(attempt_out(app, row, destination=destination, response_data="response_data" in include,
                               event=event, endpoint=endpoint if "destination" in include else None))  # fmt: skip
    return out


def _event(
    ctx: ApiContext, app: dict[str, Any], row: dict[str, Any], message: dict[str, Any] | None, destination: str,
    include: set[str],
) -> dict[str, Any]:  # fmt: skip
    """The attempt's event; before the message row is projected, this process's record of it, or the attempt's."""
    msg_id = uuid.UUID(str(row["msg_id"]))
    recent = ctx.recent.message(lookup.app_uuid(app), msg_id)
    at = datetime.fromtimestamp(timestamp_ms(msg_id) / 1000, UTC)
    base = recent or message or {"msg_id": msg_id, "event_id": row.get("event_id"), "event_type": row["event_type"],
                                 "accepted_at": at, "payload": None}  # fmt: skip
    event = event_out(app, base, matched=[], with_data="event.data" in include)
    del event["matched_destination_ids"]
    return {**event, "destination_id": destination}


async def _msg_ids(ctx: ApiContext, app_id: uuid.UUID, refs: list[str]) -> tuple[uuid.UUID, ...]:
    """Event ids as message ids; unknown ones match nothing."""
    found = set()
    for ref_ in refs:
        message = await lookup.find_event(ctx, app_id, ref_, with_content=False)
        if message is not None:
            found.add(uuid.UUID(str(message["msg_id"])))
    return tuple(sorted(found, key=lambda m: m.int))


async def _page(
    ctx: ApiContext, app: dict[str, Any], params: dict[str, Any], endpoint_ids: tuple[uuid.UUID, ...], empty: bool
) -> web.Response:
    app_id = lookup.app_uuid(app)
    include = set(params["include"] or ())
    walk = cursors.Walk.read(params)
    after, before = cursors.time_bounds(params)
    msg_ids = await _msg_ids(ctx, app_id, params["event_id"] or [])
    f = AttemptFilter(
        app_id=app_id, statuses=(params["status"],) if params["status"] else None,
        event_types=tuple(params["topic"] or ()), before=before, after=after,
        with_content="response_data" in include, msg_ids=msg_ids, endpoint_ids=endpoint_ids,
    )  # fmt: skip
    if empty or (params["event_id"] and not msg_ids):
        rows, more = [], False
    else:
        page = await list_attempts(ctx.clickhouse, f, params["limit"], walk.position, columns=COLUMNS)
        rows, more = page.items, not page.done
    shown = walk.in_order(rows)
    pagination = walk.respond(shown, "started_at", "attempt_id", more, params["limit"])
    return web.json_response({"models": await render(ctx, app, shown, include), "pagination": pagination})


async def list_all(request: web.Request) -> web.Response:
    ctx = request.app[API_CONTEXT]
    params = read_params(request, LIST)
    app = await lookup.scoped_tenant(ctx, request, cursors.one(params, "tenant_id"))
    app_id = lookup.app_uuid(app)
    found = [lookup.find_destination(ctx, app_id, d) for d in params["destination_id"] or []]
    endpoint_ids = tuple(uuid.UUID(e["endpoint_id"]) for e in found if e is not None)
    types = params["destination_type"]
    empty = bool(params["destination_id"] and not endpoint_ids) or bool(types and "webhook" not in types)
    return await _page(ctx, app, params, endpoint_ids, empty)


async def list_of_destination(request: web.Request) -> web.Response:
    ctx = request.app[API_CONTEXT]
    params = read_params(request, DESTINATION_LIST)
    app = await lookup.tenant(ctx, request, params["tenant_id"])
    endpoint = await lookup.destination(ctx, lookup.app_uuid(app), params["destination_id"])
    return await _page(ctx, app, params, (uuid.UUID(endpoint["endpoint_id"]),), False)


async def _one(ctx: ApiContext, app: dict[str, Any], params: dict[str, Any], endpoint_id: uuid.UUID | None):
    include = set(params["include"] or ())
    try:
        attempt_id = parse_id(params["attempt_id"], IdKind.ATTEMPT)
    except InvalidId:
        raise not_found("attempt") from None
    row = await find_attempt(ctx.clickhouse, lookup.app_uuid(app), attempt_id, endpoint_id=endpoint_id,
                             with_content="response_data" in include)  # fmt: skip
    if row is None:
        raise not_found("attempt")
    return web.json_response((await render(ctx, app, [row], include))[0])


async def get(request: web.Request) -> web.Response:
    ctx = request.app[API_CONTEXT]
    params = read_params(request, GET)
    app = await lookup.scoped_tenant(ctx, request, params["tenant_id"])
    return await _one(ctx, app, params, None)


async def get_of_destination(request: web.Request) -> web.Response:
    ctx = request.app[API_CONTEXT]
    params = read_params(request, DESTINATION_GET)
    app = await lookup.tenant(ctx, request, params["tenant_id"])
    endpoint = await lookup.destination(ctx, lookup.app_uuid(app), params["destination_id"])
    return await _one(ctx, app, params, uuid.UUID(endpoint["endpoint_id"]))


async def _retry_target(ctx: ApiContext, request: web.Request, body: dict[str, Any]) -> tuple[dict, dict, dict]:
    """(tenant, message, endpoint): a tenant token's own tenant; for the admin key, the tenant whose
    destination of that id has the event (destination ids are unique per tenant, not overall)."""
    scope = scope_of(request)
    if scope.app_id is not None:
        candidates = [e for e in [lookup.find_destination(ctx, scope.app_id, body["destination_id"])] if e]
        apps = [scope.app_id]
    else:
        candidates = lookup.destinations_named(ctx, body["destination_id"])
        apps = sorted({uuid.UUID(e["app_id"]) for e in candidates}, key=lambda a: a.int)
    for app_id in apps:
        message = await lookup.find_event(ctx, app_id, body["event_id"], with_content=True)
        endpoint = next((e for e in candidates if uuid.UUID(e["app_id"]) == app_id), None)
        app = ctx.records.application(app_id)
        if message is not None and app is not None:
            if endpoint is None:
                raise not_found("destination")
            return app, message, endpoint
    raise not_found("event") if candidates or scope.app_id is not None else not_found("destination")


async def retry(request: web.Request) -> web.Response:
    """A manual attempt of an event at a destination that already had one, as Outpost allows."""
    ctx = request.app[API_CONTEXT]
    body = await read_body(request, RETRY)
    app, message, endpoint = await _retry_target(ctx, request, body)
    app_id, endpoint_id = lookup.app_uuid(app), uuid.UUID(endpoint["endpoint_id"])
    if endpoint.get("disabled"):
        raise OutpostError(400, "Destination is disabled", {"error": "destination_disabled"})  # Outpost's words
    if not message.get("payload"):
        raise OutpostError(400, "the event's data was deleted; it cannot be retried")
    earlier = AttemptFilter(app_id=app_id, endpoint_id=endpoint_id, msg_id=uuid.UUID(str(message["msg_id"])))
    if not (await list_attempts(ctx.clickhouse, earlier, 1, None)).items:
        raise OutpostError(400, "the destination has no earlier attempt for this event")
    await send_manual_task(ctx, app_id, endpoint_id, message)
    return web.json_response({"success": True}, status=202)


_ATTEMPT_ID = Param("attempt_id", "path", {"type": "string", "minLength": 1}, True)
_DESTINATION_ID = Param("destination_id", "path", {"type": "string", "minLength": 1}, True)
_PAGE = {200: Response("a page of attempts", ref("AttemptPage"))}
_ONE = {200: Response("the attempt", ref("Attempt")), 404: Response("no such attempt (or not this token's)")}
LIST = Operation(
    "GET", "/attempts", list_all, "listAttempts", "List a tenant's attempts, newest first",
    params=(Param("tenant_id", "query", {**_ARRAY, "maxItems": 1}), Param("destination_id", "query", _ARRAY),
            Param("destination_type", "query", _ARRAY), *_FILTERS),
    responses=_PAGE,
)  # fmt: skip
GET = Operation("GET", "/attempts/{attempt_id}", get, "getAttempt", "Get an attempt",
                params=(_ATTEMPT_ID, TENANT, INCLUDE), responses=_ONE)  # fmt: skip
RETRY = Operation(
    "POST", "/retry", retry, "retryEvent", "Deliver an event to a destination again (a manual attempt)",
    body={"type": "object", "required": ["event_id", "destination_id"], "additionalProperties": False,
          "properties": {"event_id": {"type": "string", "minLength": 1},
                         "destination_id": {"type": "string", "minLength": 1}}},
    responses={202: Response("the attempt is queued", ref("Success")), 404: Response("no such event or destination")},
)  # fmt: skip
_DESTINATION = "/tenants/{tenant_id}/destinations/{destination_id}/attempts"
DESTINATION_LIST = Operation(
    "GET", _DESTINATION, list_of_destination, "listTenantDestinationAttempts", "List a destination's attempts",
    params=(TENANT_ID, _DESTINATION_ID, *_FILTERS), responses=_PAGE,
)  # fmt: skip
DESTINATION_GET = Operation(
    "GET", _DESTINATION + "/{attempt_id}", get_of_destination, "getTenantDestinationAttempt",
    "Get an attempt of a destination", params=(TENANT_ID, _DESTINATION_ID, _ATTEMPT_ID, INCLUDE), responses=_ONE,
)  # fmt: skip
OPERATIONS = (LIST, GET, RETRY)
DESTINATION_OPERATIONS = (DESTINATION_LIST, DESTINATION_GET)

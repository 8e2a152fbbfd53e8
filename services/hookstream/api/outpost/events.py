"""Outpost events: list and get. An event is a hookstream message; its id is the ``eventId`` or ``msg_…`` id.

``matched_destination_ids`` are the destinations the message was attempted
at. ``metadata`` comes from this process's recent MessageAccepted records:
the ClickHouse projection does not keep message metadata (yet).
"""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from hookstream.api.context import API_CONTEXT, ApiContext
from hookstream.api.outpost import cursors, lookup
from hookstream.api.outpost.shapes import event_out, ref
from hookstream.api.spec import Operation, Param, Response, read_params
from hookstream.domain.ids import IdKind
from hookstream.query.attempts import endpoints_of_messages
from hookstream.query.messages import MessageFilter, list_messages

_ARRAY = {"type": "array", "items": {"type": "string"}}
TENANT = Param("tenant_id", "query", {"type": "string"}, description="required with the admin key")


def destination_ids(ctx: ApiContext, app_id: uuid.UUID, endpoint_ids: list[uuid.UUID]) -> list[str]:
    out = []
    for endpoint_id in endpoint_ids:
        record = ctx.records.endpoint(app_id, endpoint_id)
        out.append(lookup.destination_id(record or {"endpoint_id": str(endpoint_id)}))
    return out


def with_metadata(ctx: ApiContext, app_id: uuid.UUID, row: dict[str, Any]) -> dict[str, Any]:
    recent = ctx.recent.message(app_id, uuid.UUID(str(row["msg_id"])))
    return {**row, "metadata": recent.get("metadata")} if recent is not None else row


async def render(ctx: ApiContext, app: dict[str, Any], rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    app_id = lookup.app_uuid(app)
    attempted = await endpoints_of_messages(ctx.clickhouse, app_id, [uuid.UUID(str(r["msg_id"])) for r in rows])
    return [event_out(app, with_metadata(ctx, app_id, row),
                      matched=destination_ids(ctx, app_id, attempted.get(uuid.UUID(str(row["msg_id"])), [])))
            for row in rows]  # fmt: skip


def split_ids(refs: list[str]) -> tuple[tuple[uuid.UUID, ...], tuple[str, ...]]:
    """Outpost event ids as hookstream message ids (``msg_…``) and eventIds (everything else)."""
    msg_ids = (lookup.as_id(ref_, IdKind.MESSAGE) for ref_ in refs)
    return tuple(msg_id for msg_id in msg_ids if msg_id is not None), tuple(refs)


async def list_events(request: web.Request) -> web.Response:
    ctx = request.app[API_CONTEXT]
    params = read_params(request, LIST)
    app = await lookup.scoped_tenant(ctx, request, cursors.one(params, "tenant_id"))
    app_id = lookup.app_uuid(app)
    walk = cursors.Walk.read(params)
    after, before = cursors.time_bounds(params)
    msg_ids, event_ids = split_ids(params["id"] or [])
    endpoints = [lookup.find_destination(ctx, app_id, d) for d in params["destination_id"] or []]
    f = MessageFilter(
        app_id=app_id, event_types=tuple(params["topic"] or ()), before=before, after=after, with_content=True,
        msg_ids=msg_ids, event_ids=event_ids,
        endpoint_ids=tuple(uuid.UUID(e["endpoint_id"]) for e in endpoints if e is not None),
    )  # fmt: skip
    if params["destination_id"] and not f.endpoint_ids:
        rows, more = [], False
    else:
        page = await list_messages(ctx.clickhouse, f, params["limit"], walk.position)
        rows, more = page.items, not page.done
    shown = walk.in_order(rows)
    pagination = walk.respond(shown, "accepted_at", "msg_id", more, params["limit"])
    return web.json_response({"models": await render(ctx, app, shown), "pagination": pagination})


async def get(request: web.Request) -> web.Response:
    ctx = request.app[API_CONTEXT]
    params = read_params(request, GET)
    app = await lookup.scoped_tenant(ctx, request, params["tenant_id"])
    message = await lookup.event(ctx, lookup.app_uuid(app), params["event_id"])
    return web.json_response((await render(ctx, app, [message]))[0])


LIST = Operation(
    "GET", "/events", list_events, "listEvents", "List a tenant's events, newest first",
    params=(Param("id", "query", _ARRAY), Param("tenant_id", "query", {**_ARRAY, "maxItems": 1}),
            Param("destination_id", "query", _ARRAY), Param("topic", "query", _ARRAY), *cursors.TIME_PARAMS,
            cursors.LIMIT, *cursors.PARAMS),
    responses={200: Response("a page of events", ref("EventPage"))},
)  # fmt: skip
GET = Operation(
    "GET", "/events/{event_id}", get, "getEvent", "Get an event",
    params=(Param("event_id", "path", {"type": "string", "minLength": 1}, True), TENANT),
    responses={200: Response("the event", ref("Event")), 404: Response("no such event (or not this token's)")},
)  # fmt: skip
OPERATIONS = (LIST, GET)

"""Svix messages: create (202, a MessageAccepted event on ``messages``), list, get by id or ``eventId``,
expunge the payload (204, a ContentExpunged command without an attempt: the projector blanks the
message row and its attempts' response content).

Payloads are stored as the compact JSON serialization of what the caller
sent, and the cap applies to those bytes; a repeated ``eventId`` within the
dedupe window answers 409 (``api/accept.py`` owns that sequence).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from aiohttp import web

from hookstream.api.accept import PayloadTooLarge, accept_message, encode_payload
from hookstream.api.context import API_CONTEXT
from hookstream.api.json_out import json_response
from hookstream.api.spec import Operation, Response, read_body, read_params
from hookstream.api.svix import lookup
from hookstream.api.svix.errors import Invalid, conflict
from hookstream.api.svix.pagination import position, time_page
from hookstream.api.svix.params import APP_ID, FILTERS, IDEMPOTENCY_KEY, MSG_ID, PAGE, split_names, with_content
from hookstream.api.svix.schemas import MESSAGE_IN, list_of, ref
from hookstream.api.svix.shapes import message_out
from hookstream.domain.ids import IdKind, generate_id
from hookstream.query.messages import MessageFilter, list_messages


async def create(request: web.Request) -> web.Response:
    ctx = request.app[API_CONTEXT]
    query = read_params(request, CREATE)
    body = await read_body(request, CREATE)
    event_type, event_id, payload = body["eventType"], body.get("eventId"), body["payload"]
    try:
        encoded = encode_payload(ctx, payload)
    except PayloadTooLarge as error:
        raise Invalid(["body", "payload"], f"payload is {error}") from None
    channels = body.get("channels") or []
    tags = body.get("tags") or []
    app = await lookup.application(ctx, query["app_id"])
    record = {
        "msg_id": str(generate_id()), "app_id": str(uuid.UUID(app["app_id"])), "event_type": event_type,
        "event_id": event_id, "channels": channels, "payload": encoded, "tags": tags,
        "accepted_at": datetime.now(UTC), "source": "http", "metadata": {},
    }  # fmt: skip
    if not await accept_message(ctx, record):
        raise conflict(f"a message with eventId {event_id!r} already exists")
    return json_response(message_out(record, with_content=query["with_content"]), status=202)


async def list_all(request: web.Request) -> web.Response:
    ctx = request.app[API_CONTEXT]
    query = read_params(request, LIST)
    app = await lookup.application(ctx, query["app_id"])
    with_content = query["with_content"]
    f = MessageFilter(
        app_id=uuid.UUID(app["app_id"]),
        event_types=split_names(query["event_types"]),
        channel=query["channel"],
        tag=query["tag"],
        before=query["before"],
        after=query["after"],
        with_content=with_content,
    )
    page = await list_messages(ctx.clickhouse, f, query["limit"], position(query, IdKind.MESSAGE))
    data = [message_out(ctx.recent.without_expunged_payload(row), with_content=with_content) for row in page.items]
    return json_response(time_page(data, page, IdKind.MESSAGE, "msg_id", "accepted_at"))


async def get(request: web.Request) -> web.Response:
    ctx = request.app[API_CONTEXT]
    query = read_params(request, GET)
    app = await lookup.application(ctx, query["app_id"])
    message = await lookup.message(ctx, uuid.UUID(app["app_id"]), query["msg_id"])
    return json_response(message_out(message, with_content=query["with_content"]))


async def expunge_content(request: web.Request) -> web.Response:
    ctx = request.app[API_CONTEXT]
    path = read_params(request, EXPUNGE_CONTENT)
    app = await lookup.application(ctx, path["app_id"])
    message = await lookup.message(ctx, uuid.UUID(app["app_id"]), path["msg_id"], with_content=False)
    record = {"msg_id": str(message["msg_id"]), "app_id": str(app["app_id"]), "attempt_id": None,
              "reason": "svix: expunge message content", "requested_by": "operator",
              "expunged_at": datetime.now(UTC)}  # fmt: skip
    await ctx.commands.command("ContentExpunged", record, record["msg_id"])
    ctx.recent.add_expunged(uuid.UUID(record["msg_id"]))
    return web.Response(status=204)


_OUT = ref("MessageOut")
_MISSING = {404: Response("no such application or message", ref("HttpError"))}
LIST = Operation(
    "GET", "/app/{app_id}/msg", list_all, "v1.message.list", "List an application's messages, newest first",
    params=(APP_ID, *PAGE, *FILTERS, with_content(True)),
    responses={200: Response("a page of messages", list_of("MessageOut")), **_MISSING},
)  # fmt: skip
CREATE = Operation(
    "POST", "/app/{app_id}/msg", create, "v1.message.create", "Send a message to the application's endpoints",
    params=(APP_ID, with_content(True), IDEMPOTENCY_KEY), body=MESSAGE_IN,
    responses={202: Response("accepted", _OUT), **_MISSING},
)  # fmt: skip
GET = Operation(
    "GET", "/app/{app_id}/msg/{msg_id}", get, "v1.message.get", "Get a message by id or eventId",
    params=(APP_ID, MSG_ID, with_content(True)), responses={200: Response("the message", _OUT), **_MISSING},
)  # fmt: skip
EXPUNGE_CONTENT = Operation(
    "DELETE", "/app/{app_id}/msg/{msg_id}/content", expunge_content, "v1.message.expunge-content",
    "Delete a message's payload (and its attempts' response bodies)", params=(APP_ID, MSG_ID),
    responses={204: Response("expunged"), **_MISSING},
)  # fmt: skip
OPERATIONS = (LIST, CREATE, GET, EXPUNGE_CONTENT)

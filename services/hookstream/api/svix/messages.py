"""Svix messages: create (202, a MessageAccepted event on ``messages``), list, get by id or ``eventId``.

Payloads are stored as the compact JSON serialization of what the caller
sent (Svix also minifies), and the cap applies to those bytes. A repeated
``eventId`` within the dedupe window answers 409; the router dedupes again
on the log, so two API processes racing on one eventId still deliver once.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from aiohttp import web

from hookstream.api.context import API_CONTEXT
from hookstream.api.svix import lookup, params
from hookstream.api.svix.errors import Invalid, conflict
from hookstream.api.svix.pagination import position, time_page
from hookstream.api.svix.shapes import message_out
from hookstream.domain.ids import IdKind, generate_id
from hookstream.domain.schedule import parse_duration
from hookstream.query.messages import MessageFilter, get_message_by_event_id, list_messages


async def create(request: web.Request) -> web.Response:
    ctx = request.app[API_CONTEXT]
    body = await params.json_body(request)
    with_content = params.boolean(request.query, "with_content", True)
    event_type = params.field(body, "eventType", str, required=True)
    if not params.NAME.match(event_type):
        raise Invalid(["body", "eventType"], f"{event_type!r} is not valid: 1-256 of a-z A-Z 0-9 - _ .")
    event_id = params.field(body, "eventId", str)
    if event_id is not None and not params.NAME.match(event_id):
        raise Invalid(["body", "eventId"], f"{event_id!r} is not valid: 1-256 of a-z A-Z 0-9 - _ .")
    payload = params.field(body, "payload", dict, required=True)
    encoded = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    cap = ctx.settings.api_max_payload_bytes
    if len(encoded) > cap:
        raise Invalid(["body", "payload"], f"payload is {len(encoded)} bytes serialized; the limit is {cap}")
    channels = params.name_list(body, "channels") or []
    tags = params.name_list(body, "tags") or []
    app = await lookup.application(ctx, request.match_info["app_id"])
    app_id = uuid.UUID(app["app_id"])
    now = datetime.now(UTC)
    record = {
        "msg_id": str(generate_id()), "app_id": str(app_id), "event_type": event_type, "event_id": event_id,
        "channels": channels, "payload": encoded, "tags": tags, "accepted_at": now, "source": "http", "metadata": {},
    }  # fmt: skip
    if event_id is not None:
        if ctx.recent.message_by_event_id(app_id, event_id) is not None:
            raise conflict(f"a message with eventId {event_id!r} already exists")
        ctx.recent.add_message(record)  # reserve the eventId before awaiting, against a concurrent twin
        window = now.timestamp() - parse_duration(ctx.settings.dedupe_window)
        since = datetime.fromtimestamp(window, UTC)
        try:
            if await get_message_by_event_id(ctx.clickhouse, app_id, event_id, since=since, with_content=False):
                raise conflict(f"a message with eventId {event_id!r} already exists")
            await ctx.commands.message(record)
        except BaseException:
            ctx.recent.forget_message(record)
            raise
    else:
        await ctx.commands.message(record)
        ctx.recent.add_message(record)
    return web.json_response(message_out(record, with_content=with_content), status=202)


async def list_all(request: web.Request) -> web.Response:
    ctx = request.app[API_CONTEXT]
    app = await lookup.application(ctx, request.match_info["app_id"])
    with_content = params.boolean(request.query, "with_content", True)
    f = MessageFilter(
        app_id=uuid.UUID(app["app_id"]),
        event_types=params.names(request.query, "event_types"),
        channel=params.text(request.query, "channel"),
        tag=params.text(request.query, "tag"),
        before=params.timestamp(request.query, "before"),
        after=params.timestamp(request.query, "after"),
        with_content=with_content,
    )
    page = await list_messages(ctx.clickhouse, f, params.limit(request.query), position(request.query, IdKind.MESSAGE))
    data = [message_out(row, with_content=with_content) for row in page.items]
    return web.json_response(time_page(data, page, IdKind.MESSAGE, "msg_id", "accepted_at"))


async def get(request: web.Request) -> web.Response:
    ctx = request.app[API_CONTEXT]
    app = await lookup.application(ctx, request.match_info["app_id"])
    with_content = params.boolean(request.query, "with_content", True)
    message = await lookup.message(ctx, uuid.UUID(app["app_id"]), request.match_info["msg_id"])
    return web.json_response(message_out(message, with_content=with_content))


ROUTES = [
    ("GET", "/app/{app_id}/msg", list_all),
    ("POST", "/app/{app_id}/msg", create),
    ("GET", "/app/{app_id}/msg/{msg_id}", get),
]

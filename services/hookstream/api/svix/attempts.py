"""The nine MessageAttempt operations of Svix (seed 001), as thin mappings over ``query/``.

Lists: by endpoint, by message (optional ``endpoint_id``), the two deprecated
forms, attempted destinations and attempted messages. One attempt by id,
expunge of its response content (a ContentExpunged command), and resend (a
manual DeliveryTask, never retried). Statuses of destinations and messages
come from ``query.status``, the seam the status tables will replace.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from multidict import MultiMapping

from hookstream.api.context import API_CONTEXT, ApiContext
from hookstream.api.svix import lookup, params
from hookstream.api.svix.errors import SvixError, not_found
from hookstream.api.svix.pagination import after_id, list_response, message_position, position, time_page
from hookstream.api.svix.shapes import attempt_out, endpoint_message_out, endpoint_out, message_endpoint_out
from hookstream.domain.ids import IdKind, to_svix
from hookstream.query.attempts import AttemptFilter, get_attempt, last_trigger_seq, list_attempts
from hookstream.query.messages import tags_and_payloads
from hookstream.query.status import AttemptedMessagesFilter, destinations_of_message, messages_of_endpoint

# Svix status filter -> attempt outcomes recorded (an attempt record is never pending or sending).
_OUTCOMES = {"success": ("success",), "fail": ("failed",)}


def _uuid(value: str | uuid.UUID) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(value)


def _filter(query: MultiMapping[str], app_id: uuid.UUID, **scope: uuid.UUID | None) -> AttemptFilter:
    status = params.status(query)
    return AttemptFilter(
        app_id=app_id,
        statuses=None if status is None else _OUTCOMES.get(status, ()),
        status_code_class=params.status_code_class(query),
        event_types=params.names(query, "event_types"),
        channel=params.text(query, "channel"),
        tag=params.text(query, "tag"),
        before=params.timestamp(query, "before"),
        after=params.timestamp(query, "after"),
        with_content=params.boolean(query, "with_content", True),
        **scope,
    )


async def _app(ctx: ApiContext, request: web.Request) -> uuid.UUID:
    return _uuid((await lookup.application(ctx, request.match_info["app_id"]))["app_id"])


async def _list(ctx: ApiContext, request: web.Request, f: AttemptFilter, extra: dict[str, Any] | None = None):
    page = await list_attempts(ctx.clickhouse, f, params.limit(request.query), position(request.query, IdKind.ATTEMPT))
    data = [{**attempt_out(row, expunged=ctx.recent.is_expunged(row["attempt_id"])), **(extra or {})}
            for row in page.items]  # fmt: skip
    return web.json_response(time_page(data, page, IdKind.ATTEMPT, "attempt_id", "started_at"))


async def list_by_endpoint(request: web.Request) -> web.Response:
    ctx = request.app[API_CONTEXT]
    app_id = await _app(ctx, request)
    endpoint = await lookup.endpoint(ctx, app_id, request.match_info["endpoint_id"])
    return await _list(ctx, request, _filter(request.query, app_id, endpoint_id=_uuid(endpoint["endpoint_id"])))


async def list_by_msg(request: web.Request) -> web.Response:
    """By message, optionally one endpoint's (also the deprecated ``/msg/{msg_id}/attempt`` form)."""
    ctx = request.app[API_CONTEXT]
    app_id = await _app(ctx, request)
    endpoint_id = None
    if request.query.get("endpoint_id"):
        endpoint_id = _uuid((await lookup.endpoint(ctx, app_id, request.query["endpoint_id"]))["endpoint_id"])
    message = await lookup.message(ctx, app_id, request.match_info["msg_id"], with_content=False)
    f = _filter(request.query, app_id, msg_id=_uuid(message["msg_id"]), endpoint_id=endpoint_id)
    return await _list(ctx, request, f)


async def list_for_endpoint(request: web.Request) -> web.Response:
    """Deprecated: one message's attempts at one endpoint, each carrying the endpoint."""
    ctx = request.app[API_CONTEXT]
    app_id = await _app(ctx, request)
    endpoint = await lookup.endpoint(ctx, app_id, request.match_info["endpoint_id"])
    message = await lookup.message(ctx, app_id, request.match_info["msg_id"], with_content=False)
    f = _filter(request.query, app_id, msg_id=_uuid(message["msg_id"]), endpoint_id=_uuid(endpoint["endpoint_id"]))
    return await _list(ctx, request, f, {"endpoint": endpoint_out(endpoint)})


async def _attempt(ctx: ApiContext, request: web.Request, *, with_content: bool) -> tuple[uuid.UUID, dict[str, Any]]:
    app_id = await _app(ctx, request)
    attempt_id = params.path_id(request, "attempt_id", IdKind.ATTEMPT)
    message = await lookup.message(ctx, app_id, request.match_info["msg_id"], with_content=False)
    row = await get_attempt(ctx.clickhouse, app_id, _uuid(message["msg_id"]), attempt_id, with_content=with_content)
    if row is None:
        raise not_found("Message attempt")
    return app_id, row


async def get(request: web.Request) -> web.Response:
    ctx = request.app[API_CONTEXT]
    _, row = await _attempt(ctx, request, with_content=True)
    return web.json_response(attempt_out(row, expunged=ctx.recent.is_expunged(row["attempt_id"])))


async def expunge_content(request: web.Request) -> web.Response:
    ctx = request.app[API_CONTEXT]
    app_id, row = await _attempt(ctx, request, with_content=False)
    record = {"msg_id": str(row["msg_id"]), "app_id": str(app_id), "attempt_id": str(row["attempt_id"]),
              "reason": "svix: expunge attempt content", "requested_by": "operator",
              "expunged_at": datetime.now(UTC)}  # fmt: skip
    await ctx.commands.command("ContentExpunged", record, record["msg_id"])
    ctx.recent.add_expunged(row["attempt_id"])
    return web.Response(status=204)


async def attempted_destinations(request: web.Request) -> web.Response:
    ctx = request.app[API_CONTEXT]
    app_id = await _app(ctx, request)
    message = await lookup.message(ctx, app_id, request.match_info["msg_id"], with_content=False)
    after = after_id(request.query, IdKind.ENDPOINT)
    page = await destinations_of_message(
        ctx.clickhouse, app_id, _uuid(message["msg_id"]), params.limit(request.query), after
    )
    data = []
    for state in page.items:
        endpoint = ctx.directory.endpoint(app_id, state.endpoint_id)
        if endpoint is not None:  # a deleted endpoint is no destination any more
            data.append(message_endpoint_out(state, endpoint))
    last = to_svix(IdKind.ENDPOINT, page.items[-1].endpoint_id) if page.items else None
    return web.json_response({**list_response(data, page, None, last), "prevIterator": None})


async def attempted_messages(request: web.Request) -> web.Response:
    ctx = request.app[API_CONTEXT]
    app_id = await _app(ctx, request)
    endpoint = await lookup.endpoint(ctx, app_id, request.match_info["endpoint_id"])
    with_content = params.boolean(request.query, "with_content", True)
    f = AttemptedMessagesFilter(
        app_id=app_id,
        endpoint_id=_uuid(endpoint["endpoint_id"]),
        status=params.status(request.query),
        event_types=params.names(request.query, "event_types"),
        channel=params.text(request.query, "channel"),
        tag=params.text(request.query, "tag"),
        before=params.timestamp(request.query, "before"),
        after=params.timestamp(request.query, "after"),
    )
    page = await messages_of_endpoint(ctx.clickhouse, f, params.limit(request.query), message_position(request.query))
    rows = await tags_and_payloads(ctx.clickhouse, app_id, [s.msg_id for s in page.items], with_content=with_content)
    data = [endpoint_message_out(s, rows.get(s.msg_id), with_content=with_content) for s in page.items]
    first = data[0]["id"] if data else None
    last = data[-1]["id"] if data else None
    return web.json_response(list_response(data, page, first, last))


async def resend(request: web.Request) -> web.Response:
    """A manual attempt: a DeliveryTask with trigger ``manual`` and the pair's next trigger sequence."""
    ctx = request.app[API_CONTEXT]
    app_id = await _app(ctx, request)
    endpoint = await lookup.endpoint(ctx, app_id, request.match_info["endpoint_id"])
    endpoint_id = _uuid(endpoint["endpoint_id"])
    message = await lookup.message(ctx, app_id, request.match_info["msg_id"], with_content=True)
    if not message.get("payload"):
        raise SvixError(400, "payload_expunged", "the message's payload was deleted; it cannot be resent")
    msg_id = _uuid(message["msg_id"])
    recorded = await last_trigger_seq(ctx.clickhouse, app_id, msg_id, endpoint_id)
    now = datetime.now(UTC)
    payload = message["payload"]
    task = {
        "msg_id": str(msg_id), "app_id": str(app_id), "endpoint_id": str(endpoint_id), "attempt_number": 1,
        "trigger": "manual", "trigger_seq": ctx.recent.next_trigger_seq(msg_id, endpoint_id, recorded),
        "due_at": now, "enqueued_at": now, "event_type": message["event_type"], "event_id": message.get("event_id"),
        "channels": list(message["channels"]), "payload": payload if isinstance(payload, bytes) else payload.encode(),
        "accepted_at": message["accepted_at"],
    }  # fmt: skip
    await ctx.commands.task(task)
    return web.json_response({}, status=202)


ROUTES = [
    ("GET", "/app/{app_id}/attempt/endpoint/{endpoint_id}", list_by_endpoint),
    ("GET", "/app/{app_id}/attempt/msg/{msg_id}", list_by_msg),
    ("GET", "/app/{app_id}/msg/{msg_id}/attempt", list_by_msg),
    ("GET", "/app/{app_id}/msg/{msg_id}/endpoint/{endpoint_id}/attempt", list_for_endpoint),
    ("GET", "/app/{app_id}/msg/{msg_id}/attempt/{attempt_id}", get),
    ("DELETE", "/app/{app_id}/msg/{msg_id}/attempt/{attempt_id}/content", expunge_content),
    ("GET", "/app/{app_id}/msg/{msg_id}/endpoint", attempted_destinations),
    ("GET", "/app/{app_id}/endpoint/{endpoint_id}/msg", attempted_messages),
    ("POST", "/app/{app_id}/msg/{msg_id}/endpoint/{endpoint_id}/resend", resend),
]

"""The nine MessageAttempt operations of Svix (seed 001), as thin mappings over ``query/``.

Lists: by endpoint, by message (optional ``endpoint_id``), the two deprecated
forms, attempted destinations and attempted messages. One attempt by id,
expunge of its response content (a ContentExpunged command), and resend (a
manual DeliveryTask, never retried). Statuses of destinations and messages
come from ``query.status`` (the status tables the status processor derives).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from hookstream.api.context import API_CONTEXT, ApiContext
from hookstream.api.resend import send_manual_task
from hookstream.api.spec import Operation, Param, Response, read_params
from hookstream.api.svix import lookup, params
from hookstream.api.svix.errors import SvixError, not_found
from hookstream.api.svix.pagination import after_id, list_response, message_position, position, time_page
from hookstream.api.svix.params import (
    APP_ID,
    ATTEMPT_ID,
    ENDPOINT_ID,
    FILTERS,
    IDEMPOTENCY_KEY,
    MSG_ID,
    PAGE,
    STATUS,
    STATUS_CODE_CLASS,
    split_names,
    status_name,
    with_content,
)
from hookstream.api.svix.schemas import list_of, ref
from hookstream.api.svix.shapes import (
    ATTEMPT_COLUMNS,
    attempt_out,
    endpoint_message_out,
    endpoint_out,
    message_endpoint_out,
)
from hookstream.domain.ids import IdKind, to_svix
from hookstream.query.attempts import AttemptFilter, get_attempt, list_attempts
from hookstream.query.messages import tags_and_payloads
from hookstream.query.status import AttemptedMessagesFilter, destinations_of_message, messages_of_endpoint

# Svix status filter -> attempt outcomes recorded. An attempt is a finished request, success or fail, as in Svix
# (whose attempt rows are written when a request ends): status=pending or sending on an attempt list is a valid
# filter that matches nothing; which pairs are pending or sending is what attempted messages/destinations show.
_OUTCOMES = {"success": ("success",), "fail": ("failed",)}


def _uuid(value: str | uuid.UUID) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(value)


def _filter(query: dict[str, Any], app_id: uuid.UUID, **scope: uuid.UUID | None) -> AttemptFilter:
    status = status_name(query["status"])
    return AttemptFilter(
        app_id=app_id,
        statuses=None if status is None else _OUTCOMES.get(status, ()),
        status_code_class=query["status_code_class"],
        event_types=split_names(query["event_types"]),
        channel=query["channel"],
        tag=query["tag"],
        before=query["before"],
        after=query["after"],
        with_content=query["with_content"],
        **scope,
    )


async def _app(ctx: ApiContext, query: dict[str, Any]) -> uuid.UUID:
    return _uuid((await lookup.application(ctx, query["app_id"]))["app_id"])


async def _list(ctx: ApiContext, query: dict[str, Any], f: AttemptFilter, extra: dict[str, Any] | None = None):
    page = await list_attempts(
        ctx.clickhouse, f, query["limit"], position(query, IdKind.ATTEMPT), columns=ATTEMPT_COLUMNS
    )
    data = [{**attempt_out(row, expunged=ctx.recent.is_expunged(row["attempt_id"], row["msg_id"])), **(extra or {})}
            for row in page.items]  # fmt: skip
    return web.json_response(time_page(data, page, IdKind.ATTEMPT, "attempt_id", "started_at"))


async def list_by_endpoint(request: web.Request) -> web.Response:
    ctx = request.app[API_CONTEXT]
    query = read_params(request, LIST_BY_ENDPOINT)
    app_id = await _app(ctx, query)
    endpoint = await lookup.endpoint(ctx, app_id, query["endpoint_id"])
    return await _list(ctx, query, _filter(query, app_id, endpoint_id=_uuid(endpoint["endpoint_id"])))


async def list_by_msg(request: web.Request) -> web.Response:
    """By message, optionally one endpoint's (also the deprecated ``/msg/{msg_id}/attempt`` form)."""
    ctx = request.app[API_CONTEXT]
    query = read_params(request, LIST_BY_MSG)
    app_id = await _app(ctx, query)
    endpoint_id = None
    if query["endpoint_id"]:
        endpoint_id = _uuid((await lookup.endpoint(ctx, app_id, query["endpoint_id"]))["endpoint_id"])
    message = await lookup.message(ctx, app_id, query["msg_id"], with_content=False)
    f = _filter(query, app_id, msg_id=_uuid(message["msg_id"]), endpoint_id=endpoint_id)
    return await _list(ctx, query, f)


async def list_for_endpoint(request: web.Request) -> web.Response:
    """Deprecated: one message's attempts at one endpoint, each carrying the endpoint."""
    ctx = request.app[API_CONTEXT]
    query = read_params(request, LIST_FOR_ENDPOINT)
    app_id = await _app(ctx, query)
    endpoint = await lookup.endpoint(ctx, app_id, query["endpoint_id"])
    message = await lookup.message(ctx, app_id, query["msg_id"], with_content=False)
    f = _filter(query, app_id, msg_id=_uuid(message["msg_id"]), endpoint_id=_uuid(endpoint["endpoint_id"]))
    return await _list(ctx, query, f, {"endpoint": endpoint_out(endpoint)})


async def _attempt(
    ctx: ApiContext, request: web.Request, op: Operation, *, with_content: bool
) -> tuple[uuid.UUID, dict[str, Any]]:
    path = read_params(request, op)
    app_id = await _app(ctx, path)
    attempt_id = params.path_id(request, "attempt_id", IdKind.ATTEMPT)
    message = await lookup.message(ctx, app_id, path["msg_id"], with_content=False)
    row = await get_attempt(ctx.clickhouse, app_id, _uuid(message["msg_id"]), attempt_id, with_content=with_content)
    if row is None:
        raise not_found("Message attempt")
    return app_id, row


async def get(request: web.Request) -> web.Response:
    ctx = request.app[API_CONTEXT]
    _, row = await _attempt(ctx, request, GET, with_content=True)
    return web.json_response(attempt_out(row, expunged=ctx.recent.is_expunged(row["attempt_id"], row["msg_id"])))


async def expunge_content(request: web.Request) -> web.Response:
    ctx = request.app[API_CONTEXT]
    app_id, row = await _attempt(ctx, request, EXPUNGE_CONTENT, with_content=False)
    record = {"msg_id": str(row["msg_id"]), "app_id": str(app_id), "attempt_id": str(row["attempt_id"]),
              "reason": "svix: expunge attempt content", "requested_by": "operator",
              "expunged_at": datetime.now(UTC)}  # fmt: skip
    await ctx.commands.command("ContentExpunged", record, record["msg_id"])
    ctx.recent.add_expunged(row["attempt_id"])
    return web.Response(status=204)


async def attempted_destinations(request: web.Request) -> web.Response:
    ctx = request.app[API_CONTEXT]
    query = read_params(request, ATTEMPTED_DESTINATIONS)
    app_id = await _app(ctx, query)
    message = await lookup.message(ctx, app_id, query["msg_id"], with_content=False)
    after = after_id(query, IdKind.ENDPOINT)
    page = await destinations_of_message(ctx.clickhouse, app_id, _uuid(message["msg_id"]), query["limit"], after)
    data = []
    for state in page.items:
        endpoint = ctx.records.endpoint(app_id, state.endpoint_id)
        if endpoint is not None:  # a deleted endpoint is no destination any more
            data.append(message_endpoint_out(state, endpoint))
    last = to_svix(IdKind.ENDPOINT, page.items[-1].endpoint_id) if page.items else None
    return web.json_response({**list_response(data, page, None, last), "prevIterator": None})


async def attempted_messages(request: web.Request) -> web.Response:
    ctx = request.app[API_CONTEXT]
    query = read_params(request, ATTEMPTED_MESSAGES)
    app_id = await _app(ctx, query)
    endpoint = await lookup.endpoint(ctx, app_id, query["endpoint_id"])
    with_content = query["with_content"]
    f = AttemptedMessagesFilter(
        app_id=app_id,
        endpoint_id=_uuid(endpoint["endpoint_id"]),
        status=status_name(query["status"]),
        event_types=split_names(query["event_types"]),
        channel=query["channel"],
        tag=query["tag"],
        before=query["before"],
        after=query["after"],
    )
    page = await messages_of_endpoint(ctx.clickhouse, f, query["limit"], message_position(query))
    rows = await tags_and_payloads(ctx.clickhouse, app_id, [s.msg_id for s in page.items], with_content=with_content)
    found = {msg_id: ctx.recent.without_expunged_payload(row) for msg_id, row in rows.items()}
    data = [endpoint_message_out(s, found.get(s.msg_id), with_content=with_content) for s in page.items]
    first = data[0]["id"] if data else None
    last = data[-1]["id"] if data else None
    return web.json_response(list_response(data, page, first, last))


async def resend(request: web.Request) -> web.Response:
    """A manual attempt: a DeliveryTask with trigger ``manual`` and the pair's next trigger sequence."""
    ctx = request.app[API_CONTEXT]
    path = read_params(request, RESEND)
    app_id = await _app(ctx, path)
    endpoint = await lookup.endpoint(ctx, app_id, path["endpoint_id"])
    endpoint_id = _uuid(endpoint["endpoint_id"])
    message = await lookup.message(ctx, app_id, path["msg_id"], with_content=True)
    if not message.get("payload"):
        raise SvixError(400, "payload_expunged", "the message's payload was deleted; it cannot be resent")
    await send_manual_task(ctx, app_id, endpoint_id, message)
    return web.json_response({}, status=202)


_MISSING = {404: Response("no such application, endpoint or message", ref("HttpError"))}
_ATTEMPTS = {200: Response("a page of attempts, newest first", list_of("MessageAttemptOut")), **_MISSING}
_FILTERS = (*PAGE, STATUS, STATUS_CODE_CLASS, *FILTERS, with_content(True))
_BY_MSG = (APP_ID, MSG_ID, *_FILTERS, Param("endpoint_id", "query", {"type": "string"},
                                              description="only attempts at this endpoint (id or uid)"))  # fmt: skip
LIST_BY_ENDPOINT = Operation(
    "GET", "/app/{app_id}/attempt/endpoint/{endpoint_id}", list_by_endpoint, "v1.message-attempt.list-by-endpoint",
    "List an endpoint's attempts", params=(APP_ID, ENDPOINT_ID, *_FILTERS), responses=_ATTEMPTS,
)  # fmt: skip
LIST_BY_MSG = Operation("GET", "/app/{app_id}/attempt/msg/{msg_id}", list_by_msg, "v1.message-attempt.list-by-msg",
                        "List a message's attempts", params=_BY_MSG, responses=_ATTEMPTS)  # fmt: skip
LIST_BY_MSG_DEPRECATED = Operation(
    "GET", "/app/{app_id}/msg/{msg_id}/attempt", list_by_msg, "v1.message-attempt.list-by-msg-deprecated",
    "List a message's attempts (deprecated form)", params=_BY_MSG, responses=_ATTEMPTS,
)  # fmt: skip
LIST_FOR_ENDPOINT = Operation(
    "GET", "/app/{app_id}/msg/{msg_id}/endpoint/{endpoint_id}/attempt", list_for_endpoint,
    "v1.message-attempt.list-by-endpoint-deprecated", "List a message's attempts at one endpoint (deprecated)",
    params=(APP_ID, MSG_ID, ENDPOINT_ID, *_FILTERS), responses=_ATTEMPTS,
)  # fmt: skip
GET = Operation(
    "GET", "/app/{app_id}/msg/{msg_id}/attempt/{attempt_id}", get, "v1.message-attempt.get", "Get an attempt",
    params=(APP_ID, MSG_ID, ATTEMPT_ID), responses={200: Response("the attempt", ref("MessageAttemptOut")), **_MISSING},
)  # fmt: skip
EXPUNGE_CONTENT = Operation(
    "DELETE", "/app/{app_id}/msg/{msg_id}/attempt/{attempt_id}/content", expunge_content,
    "v1.message-attempt.expunge-content", "Delete an attempt's response body", params=(APP_ID, MSG_ID, ATTEMPT_ID),
    responses={204: Response("expunged"), **_MISSING},
)  # fmt: skip
ATTEMPTED_DESTINATIONS = Operation(
    "GET", "/app/{app_id}/msg/{msg_id}/endpoint", attempted_destinations,
    "v1.message-attempt.list-attempted-destinations", "The endpoints a message was sent to, with its state at each",
    params=(APP_ID, MSG_ID, *PAGE),
    responses={200: Response("a page of destinations", list_of("MessageEndpointOut")), **_MISSING},
)  # fmt: skip
ATTEMPTED_MESSAGES = Operation(
    "GET", "/app/{app_id}/endpoint/{endpoint_id}/msg", attempted_messages,
    "v1.message-attempt.list-attempted-messages", "The messages sent to an endpoint, with their state there",
    params=(APP_ID, ENDPOINT_ID, *PAGE, STATUS, *FILTERS, with_content(True)),
    responses={200: Response("a page of messages", list_of("EndpointMessageOut")), **_MISSING},
)  # fmt: skip
RESEND = Operation(
    "POST", "/app/{app_id}/msg/{msg_id}/endpoint/{endpoint_id}/resend", resend, "v1.message-attempt.resend",
    "Send a message to an endpoint again (a manual attempt)", params=(APP_ID, MSG_ID, ENDPOINT_ID, IDEMPOTENCY_KEY),
    responses={202: Response("queued", ref("EmptyOut")), 400: Response("the payload was expunged", ref("HttpError")),
               **_MISSING},
)  # fmt: skip
OPERATIONS = (LIST_BY_ENDPOINT, LIST_BY_MSG, LIST_BY_MSG_DEPRECATED, LIST_FOR_ENDPOINT, GET, EXPUNGE_CONTENT,
              ATTEMPTED_DESTINATIONS, ATTEMPTED_MESSAGES, RESEND)  # fmt: skip

"""``GET /v1/messages/{id}`` and ``GET /v1/messages/{id}/attempts`` (seed 002).

The path names no project, so the project is the token's: an application
token reads its own application; the operator's reads whichever holds the
message (found through the ``messages`` table's msg_id bloom filter, then
read on the by-message key). The attempt list never answers 404: an unknown
message, or one of another project, has no attempts visible to the caller,
which is an empty list (the seed's rule; clients call ``GET
/v1/messages/{id}`` first to tell "no such message" from "no attempts yet").
The list is the message's first 200 attempts, oldest first as in the seed's
example; ``has_more`` says more exist (no cursor yet, as the seed says).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from aiohttp import web

from hookstream.api.auth import scope_of
from hookstream.api.context import API_CONTEXT, ApiContext
from hookstream.api.requestid import request_id_of
from hookstream.api.spec import Operation, Param, Response, read_params
from hookstream.api.v1.bodies import body_url
from hookstream.api.v1.errors import not_found
from hookstream.api.v1.shapes import as_uuid, attempt_out, message_out, ref
from hookstream.domain.access import Scope
from hookstream.query.attempts import first_attempts_of_message
from hookstream.query.messages import find_message, get_message

MAX_ATTEMPTS = 200


async def _message(ctx: ApiContext, scope: Scope, msg_id: uuid.UUID, *, with_content: bool) -> dict[str, Any] | None:
    if scope.app_id is None:
        return await find_message(ctx.clickhouse, msg_id, with_content=with_content)
    return ctx.recent.message(scope.app_id, msg_id) or await get_message(
        ctx.clickhouse, scope.app_id, msg_id, with_content=with_content
    )


async def get(request: web.Request) -> web.Response:
    msg_id = read_params(request, GET_MESSAGE)["id"]
    found = await _message(request.app[API_CONTEXT], scope_of(request), msg_id, with_content=True)
    if found is None:
        raise not_found("message")
    return web.json_response({"data": message_out(found), "meta": {"request_id": request_id_of(request)}})


async def list_attempts(request: web.Request) -> web.Response:
    msg_id = read_params(request, LIST_ATTEMPTS)["id"]
    ctx = request.app[API_CONTEXT]
    scope = scope_of(request)
    app_id = scope.app_id
    if app_id is None:
        found = await _message(ctx, scope, msg_id, with_content=False)
        app_id = as_uuid(found["app_id"]) if found is not None else None
    data: list[dict[str, Any]] = []
    has_more = False
    if app_id is not None:
        page = await first_attempts_of_message(ctx.clickhouse, app_id, msg_id, MAX_ATTEMPTS)
        now = time.time()
        data = [attempt_out(row, body_url=body_url(request, row, now)) for row in page.items]
        has_more = not page.done
    meta = {"request_id": request_id_of(request), "has_more": has_more}
    return web.json_response({"data": data, "meta": meta})


_ID = Param(
    "id", "path", {"type": "string", "format": "uuid", "examples": ["01935abc-def0-7123-4567-890abcdef012"]},
    required=True, description="Unique message identifier (UUIDv7)",
)  # fmt: skip
GET_MESSAGE = Operation(
    method="GET",
    path="/messages/{id:[^/]+}",  # any text reaches the handler, so a bad id is 400, never 404
    handler=get,
    operation_id="v1GetMessage",
    summary="Get a message (call it first: the attempt list answers 200 with no attempts for an unknown id)",
    params=(_ID,),
    responses={
        200: Response("The message", ref("V1MessageResponse")),
        404: Response("No such message in the token's project", ref("V1Error")),
    },
)
LIST_ATTEMPTS = Operation(
    method="GET",
    path="/messages/{id:[^/]+}/attempts",
    handler=list_attempts,
    operation_id="v1ListMessageAttempts",
    summary="Get message delivery attempts: timing breakdown, response details and connection metadata",
    params=(_ID,),
    responses={
        200: Response(
            f"Attempts, oldest first, at most {MAX_ATTEMPTS}. Empty if the message has no attempts yet, "
            "or if the message ID is not found (or belongs to another project).",
            ref("V1AttemptList"),
        ),
    },
)
OPERATIONS = [GET_MESSAGE, LIST_ATTEMPTS]

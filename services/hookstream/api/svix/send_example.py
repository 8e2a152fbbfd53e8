"""``POST .../endpoint/{endpoint_id}/send-example``: a message for one endpoint, from its event type's example.

As in Svix's server: the payload is the first entry of ``examples`` in the
event type's schema version ``"1"`` (``svix.ping`` needs no event type and
sends ``{"success": true}``); an event type without one is a 400
``invalid_scheme``. The message is accepted like any other (listed, with its
attempts) but routed to this endpoint alone, and only if the endpoint takes
that event type (its ``destination_id``, as an Outpost publish naming one destination).
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from hookstream.api.accept import accept_message
from hookstream.api.context import API_CONTEXT, ApiContext
from hookstream.api.fresh import get_fresh
from hookstream.api.spec import Operation, Response, read_body, read_params
from hookstream.api.svix.endpoints import MISSING, ONE_PATH, target
from hookstream.api.svix.errors import SvixError, not_found
from hookstream.api.svix.params import APP_ID, ENDPOINT_ID, IDEMPOTENCY_KEY, name_schema
from hookstream.api.svix.schemas import ref
from hookstream.api.svix.shapes import message_out
from hookstream.domain.ids import generate_id

PING = "svix.ping"
_PING_PAYLOAD = b'{"success":true}'


async def _example(ctx: ApiContext, event_type: str) -> bytes:
    if event_type == PING:
        return _PING_PAYLOAD
    record = await get_fresh(ctx.cache, lambda: ctx.records.event_type(event_type), lambda: not_found("Event type"))
    schemas: Any = json.loads(record["schemas"]) if record.get("schemas") else {}
    examples = (schemas.get("1") or {}).get("examples") if isinstance(schemas, dict) else None
    if not isinstance(examples, list) or not examples:
        raise SvixError(400, "invalid_scheme", "Unable to generate example message from event-type schema")
    return json.dumps(examples[0], separators=(",", ":"), ensure_ascii=False).encode()


async def send_example(request: web.Request) -> web.Response:
    ctx = request.app[API_CONTEXT]
    path = read_params(request, SEND_EXAMPLE)
    event_type = (await read_body(request, SEND_EXAMPLE))["eventType"]
    app_id, endpoint = await target(ctx, path)
    record = {
        "msg_id": str(generate_id()), "app_id": str(app_id), "event_type": event_type, "event_id": None,
        "channels": [], "payload": await _example(ctx, event_type), "tags": [], "accepted_at": datetime.now(UTC),
        "source": "http", "metadata": {}, "destination_id": str(uuid.UUID(endpoint["endpoint_id"])),
    }  # fmt: skip
    await accept_message(ctx, record)
    return web.json_response(message_out(record, with_content=True))


SEND_EXAMPLE = Operation(
    "POST", ONE_PATH + "/send-example", send_example, "v1.endpoint.send-example",
    "Send the event type's example (or svix.ping) to this endpoint alone",
    params=(APP_ID, ENDPOINT_ID, IDEMPOTENCY_KEY),
    body={"type": "object", "required": ["eventType"],
          "properties": {"eventType": name_schema("a valid event type name")}},
    responses={200: Response("the message sent", ref("MessageOut")),
               400: Response("the event type's schema has no example", ref("HttpError")), **MISSING},
)  # fmt: skip
OPERATIONS = (SEND_EXAMPLE,)

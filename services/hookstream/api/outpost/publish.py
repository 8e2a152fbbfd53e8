"""Outpost publish: an event for a tenant becomes a MessageAccepted on ``messages`` (admin key only).

``id`` is the message's ``eventId``: publishing the same id again for the
same tenant within the dedupe window answers ``duplicate: true`` and puts
nothing on the log (the router dedupes again on the log, so two API
processes racing on one id still deliver once). ``destination_ids`` are the
destinations the event matches now (enabled, topic, filter), decided by the
same pure matcher the router uses.

``destination_id`` sends the event to that destination alone, if it matches
it like any other; ``eligible_for_retry: false`` means a failed delivery is
not retried automatically (a manual retry still works). Both ride on the
MessageAccepted record, so the router and the retry decision honour them.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from hookstream.api.accept import PayloadTooLarge, accept_message, encode_payload
from hookstream.api.context import API_CONTEXT, ApiContext
from hookstream.api.outpost import lookup
from hookstream.api.outpost.auth import require_admin
from hookstream.api.outpost.errors import invalid
from hookstream.api.outpost.shapes import ref
from hookstream.api.outpost.tenants import NAME_PATTERN
from hookstream.api.spec import Operation, Response, read_body
from hookstream.domain.directory import endpoint_from_record
from hookstream.domain.ids import generate_id
from hookstream.domain.matching import match_endpoints
from hookstream.domain.routing import addressed, message_facts

BODY = {
    "type": "object", "required": ["data"], "additionalProperties": False,
    "properties": {
        "data": {"type": "object"}, "id": {"type": "string", "pattern": NAME_PATTERN},
        "tenant_id": {"type": "string", "minLength": 1}, "destination_id": {"type": "string"},
        "topic": {"type": "string", "pattern": NAME_PATTERN}, "eligible_for_retry": {"type": "boolean"},
        "time": {"type": "string", "format": "date-time"},
        "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}  # fmt: skip


def matched(ctx: ApiContext, app: dict[str, Any], record: dict[str, Any]) -> list[str]:
    """Destination ids the message is routed to, by the router's own rule over the current config."""
    endpoints = {uuid.UUID(e["endpoint_id"]): e for e in ctx.records.endpoints_of(lookup.app_uuid(app))}
    rules = addressed(record, (endpoint_from_record(e) for e in endpoints.values()))
    routed = match_endpoints(message_facts(record), rules)
    return [lookup.destination_id(endpoints[rule.endpoint_id]) for rule in routed]


def _topic(ctx: ApiContext, body: dict[str, Any]) -> str:
    """Required, and one of them, once topics (event types) are configured; free otherwise."""
    configured = ctx.records.topics()
    topic = body.get("topic")
    if configured and topic is None:
        raise invalid("topic", "is required: this deployment has topics configured (GET /topics)")
    if configured and topic not in configured:
        raise invalid("topic", f"{topic!r} is not a configured topic (GET /topics lists them)")
    return topic or ""


def _time(body: dict[str, Any]) -> datetime:
    if "time" not in body:
        return datetime.now(UTC)
    try:
        at = datetime.fromisoformat(body["time"].replace("Z", "+00:00"))
    except ValueError:
        raise invalid("time", f"{body['time']!r} is not an RFC 3339 date-time") from None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _only(ctx: ApiContext, app_id: uuid.UUID, ref: str | None) -> str | None:
    """The endpoint a ``destination_id`` names, as the router compares it; a ref naming no destination of the
    tenant is kept as given and matches nothing (Outpost answers 202 with no destination_ids, as here)."""
    if ref is None:
        return None
    found = lookup.find_destination(ctx, app_id, ref)
    return str(found["endpoint_id"]) if found is not None else ref


async def publish(request: web.Request) -> web.Response:
    ctx = request.app[API_CONTEXT]
    require_admin(request, "publishing")
    body = await read_body(request, PUBLISH)
    if "tenant_id" not in body:
        raise invalid("tenant_id", "is required")
    try:
        encoded = encode_payload(ctx, body["data"])
    except PayloadTooLarge as error:
        raise invalid("data", f"is {error}") from None
    app = await lookup.tenant(ctx, request, body["tenant_id"])
    app_id = lookup.app_uuid(app)
    record = {
        "msg_id": str(generate_id()), "app_id": str(app_id), "event_type": _topic(ctx, body),
        "event_id": body.get("id"), "channels": [], "payload": encoded, "tags": [], "accepted_at": _time(body),
        "source": "http", "metadata": body.get("metadata") or {},
        "destination_id": _only(ctx, app_id, body.get("destination_id")),
        "eligible_for_retry": body.get("eligible_for_retry", True),
    }  # fmt: skip
    destinations = matched(ctx, app, record)
    duplicate = not await accept_message(ctx, record)
    return web.json_response({"id": lookup.event_id(record), "duplicate": duplicate, "destination_ids": destinations},
                             status=202)  # fmt: skip


PUBLISH = Operation(
    "POST", "/publish", publish, "publishEvent", "Publish an event for a tenant (admin API key)", body=BODY,
    responses={202: Response("accepted, or a duplicate of an earlier id", ref("PublishResponse"))},
)  # fmt: skip
OPERATIONS = (PUBLISH,)

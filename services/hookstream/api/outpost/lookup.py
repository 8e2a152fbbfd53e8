"""Outpost ids -> hookstream entities, within what the request's token may see (404 otherwise).

Ids are chosen so both dialects see one entity: a tenant is an application
and its id is the application's ``uid`` (an Outpost upsert sets it), or the
Svix ``app_…`` id when the application has none; a destination id is the
endpoint's ``uid`` or its ``ep_…`` id; an event id is the message's
``eventId`` (Outpost's publish ``id``) or its ``msg_…`` id.
"""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from hookstream.api.auth import scope_of
from hookstream.api.context import ApiContext
from hookstream.api.fresh import get_fresh
from hookstream.api.outpost.errors import bad_request, not_found
from hookstream.domain.ids import IdKind, InvalidId, parse_id, to_svix
from hookstream.query.messages import get_message, get_message_by_event_id


def as_id(ref: str, kind: IdKind) -> uuid.UUID | None:
    if not ref.startswith(kind.prefix):
        return None
    try:
        return parse_id(ref, kind)
    except InvalidId:
        return None


def app_uuid(record: dict[str, Any]) -> uuid.UUID:
    return uuid.UUID(str(record["app_id"]))


def tenant_id(record: dict[str, Any]) -> str:
    return record.get("uid") or to_svix(IdKind.APPLICATION, app_uuid(record))


def destination_id(endpoint: dict[str, Any]) -> str:
    return endpoint.get("uid") or to_svix(IdKind.ENDPOINT, uuid.UUID(str(endpoint["endpoint_id"])))


def event_id(message: dict[str, Any]) -> str:
    return message.get("event_id") or to_svix(IdKind.MESSAGE, uuid.UUID(str(message["msg_id"])))


def find_tenant(ctx: ApiContext, ref: str) -> dict[str, Any] | None:
    app_id = as_id(ref, IdKind.APPLICATION)
    found = ctx.records.application(app_id) if app_id is not None else None
    return found or ctx.records.application_by_uid(ref)


async def tenant(ctx: ApiContext, request: web.Request, ref: str) -> dict[str, Any]:
    """The tenant ``ref`` names, if the token may see it; a miss waits for the config view once."""
    found = await get_fresh(ctx.cache, lambda: find_tenant(ctx, ref), lambda: not_found("tenant"))
    if not scope_of(request).allows(found["app_id"]):
        raise not_found("tenant")
    return found


async def scoped_tenant(ctx: ApiContext, request: web.Request, ref: str | None) -> dict[str, Any]:
    """For routes with an optional ``tenant_id``: a tenant token's own tenant (the parameter is ignored, as
    in Outpost), else the named one; hookstream answers for one tenant at a time."""
    scope = scope_of(request)
    if scope.app_id is not None:
        found = ctx.records.application(scope.app_id)
        if found is None:
            raise not_found("tenant")
        return found
    if ref is None:
        raise bad_request("query parameter tenant_id", "is required with the admin API key")
    return await tenant(ctx, request, ref)


def find_destination(ctx: ApiContext, app_id: uuid.UUID, ref: str) -> dict[str, Any] | None:
    endpoint_id = as_id(ref, IdKind.ENDPOINT)
    found = ctx.records.endpoint(app_id, endpoint_id) if endpoint_id is not None else None
    return found or ctx.records.endpoint_by_uid(app_id, ref)


async def destination(ctx: ApiContext, app_id: uuid.UUID, ref: str) -> dict[str, Any]:
    return await get_fresh(ctx.cache, lambda: find_destination(ctx, app_id, ref), lambda: not_found("destination"))


def destinations_named(ctx: ApiContext, ref: str) -> list[dict[str, Any]]:
    """Every endpoint (in any tenant) the destination id ``ref`` may name: for routes given no tenant."""
    endpoint_id = as_id(ref, IdKind.ENDPOINT)
    found = ctx.records.any_endpoint(endpoint_id) if endpoint_id is not None else None
    return [found] if found is not None else ctx.records.endpoints_with_uid(ref)


async def find_event(ctx: ApiContext, app_id: uuid.UUID, ref: str, *, with_content: bool) -> dict[str, Any] | None:
    """This process's recent writes first (the projection lags), then ClickHouse."""
    msg_id = as_id(ref, IdKind.MESSAGE)
    if msg_id is not None:
        return ctx.recent.message(app_id, msg_id) or await get_message(
            ctx.clickhouse, app_id, msg_id, with_content=with_content
        )
    return ctx.recent.message_by_event_id(app_id, ref) or await get_message_by_event_id(
        ctx.clickhouse, app_id, ref, with_content=with_content
    )


async def event(ctx: ApiContext, app_id: uuid.UUID, ref: str, *, with_content: bool = True) -> dict[str, Any]:
    found = await find_event(ctx, app_id, ref, with_content=with_content)
    if found is None:
        raise not_found("event")
    return found

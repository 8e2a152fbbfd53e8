"""Path references -> entities, or 404: application id or uid, endpoint id or uid, message id or eventId.

Another application's id answers 404 exactly like an unknown one. A miss in
the config view waits for the view to reach the end of the config topic once
before answering 404, so an entity created a moment ago through another API
process is found too.
"""

from __future__ import annotations

import uuid
from typing import Any

from hookstream.api.context import ApiContext
from hookstream.api.fresh import find_fresh, get_fresh
from hookstream.api.svix.errors import not_found
from hookstream.api.svix.params import id_or_ref
from hookstream.domain.ids import IdKind
from hookstream.query.messages import get_message, get_message_by_event_id


def find_application(ctx: ApiContext, ref: str) -> dict[str, Any] | None:
    app_id = id_or_ref(ref, IdKind.APPLICATION)
    return ctx.records.application(app_id) if app_id is not None else ctx.records.application_by_uid(ref)


async def find_application_fresh(ctx: ApiContext, ref: str) -> dict[str, Any] | None:
    return await find_fresh(ctx.cache, lambda: find_application(ctx, ref))


async def application(ctx: ApiContext, ref: str) -> dict[str, Any]:
    return await get_fresh(ctx.cache, lambda: find_application(ctx, ref), lambda: not_found("Application"))


def find_endpoint(ctx: ApiContext, app_id: uuid.UUID, ref: str) -> dict[str, Any] | None:
    endpoint_id = id_or_ref(ref, IdKind.ENDPOINT)
    if endpoint_id is not None:
        return ctx.records.endpoint(app_id, endpoint_id)
    return ctx.records.endpoint_by_uid(app_id, ref)


async def find_endpoint_fresh(ctx: ApiContext, app_id: uuid.UUID, ref: str) -> dict[str, Any] | None:
    return await find_fresh(ctx.cache, lambda: find_endpoint(ctx, app_id, ref))


async def endpoint(ctx: ApiContext, app_id: uuid.UUID, ref: str) -> dict[str, Any]:
    return await get_fresh(ctx.cache, lambda: find_endpoint(ctx, app_id, ref), lambda: not_found("Endpoint"))


async def message(ctx: ApiContext, app_id: uuid.UUID, ref: str, *, with_content: bool = True) -> dict[str, Any]:
    """A message by id or eventId: this process's recent writes first, then the projection."""
    msg_id = id_or_ref(ref, IdKind.MESSAGE)
    if msg_id is not None:
        found = ctx.recent.message(app_id, msg_id) or await get_message(
            ctx.clickhouse, app_id, msg_id, with_content=with_content
        )
    else:
        found = ctx.recent.message_by_event_id(app_id, ref) or await get_message_by_event_id(
            ctx.clickhouse, app_id, ref, with_content=with_content
        )
    if found is None:
        raise not_found("Message")
    return ctx.recent.without_expunged_payload(found)

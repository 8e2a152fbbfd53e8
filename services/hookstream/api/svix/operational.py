"""Svix operational webhook endpoints (``/api/v1/operational-webhook/endpoint``), operator only.

An operational webhook endpoint is an ordinary endpoint of the reserved
application :data:`~hookstream.domain.operational.OPERATIONAL_APP_ID`: the
status role relays each operational event as a message of that application,
so the endpoint's event-type filter picks which events it receives, and its
secret signs them. Each route is therefore the endpoint route of the same
name with the application fixed: the handlers of :mod:`.endpoints` (and its secret and header modules) serve
them, so validation, errors and shapes stay one implementation (Svix's
``OperationalWebhookEndpointOut`` is its endpoint shape without channels;
the extra field is ignored by clients). The reserved application is created
with the first operational endpoint, once that endpoint's body has been read
and validated (a refused body writes nothing).
"""

from __future__ import annotations

from dataclasses import replace

from aiohttp import web

from hookstream.api.auth import scope_of
from hookstream.api.commands import APPLICATION, Record
from hookstream.api.context import API_CONTEXT, ApiContext
from hookstream.api.fresh import find_fresh
from hookstream.api.spec import Operation, read_body, read_params
from hookstream.api.svix import endpoint_headers, endpoint_secrets, endpoints
from hookstream.api.svix.errors import forbidden, not_found
from hookstream.api.svix.pagination import id_list_response
from hookstream.domain.ids import IdKind, to_svix
from hookstream.domain.operational import OPERATIONAL_APP_ID, OPERATIONAL_APP_NAME
from hookstream.query.common import Page

_APP_REF = to_svix(IdKind.APPLICATION, OPERATIONAL_APP_ID)
_BASE = "/operational-webhook/endpoint"
_ENDPOINTS = "/app/{app_id}/endpoint"


def _operational(endpoint_op: Operation, operation_id: str, summary: str, *, creates: bool = False) -> Operation:
    """``endpoint_op`` with the application fixed: its path under ``_BASE``, its parameters but ``app_id``."""
    declared: Operation

    async def route(request: web.Request) -> web.StreamResponse:
        if not scope_of(request).is_operator:
            raise forbidden("operational webhooks are managed with the operator token only")
        read_params(request, declared)  # bad input is a 422 even before the reserved application exists
        ctx = request.app[API_CONTEXT]
        if await _reserved_application(ctx) is None:
            if not creates:
                if endpoint_op is endpoints.LIST:
                    return web.json_response(id_list_response([], Page([], done=True)))
                raise not_found("Endpoint")
            await read_body(request, declared)  # a body the endpoint handler refuses must not create the application
            await _create_application(request)
        request.match_info["app_id"] = _APP_REF
        return await endpoint_op.handler(request)

    route.__doc__ = endpoint_op.handler.__doc__
    declared = replace(
        endpoint_op, path=_BASE + endpoint_op.path.removeprefix(_ENDPOINTS), handler=route, operation_id=operation_id,
        summary=summary, params=tuple(p for p in endpoint_op.params if p.name != "app_id"),
    )  # fmt: skip
    return declared


async def _reserved_application(ctx: ApiContext) -> Record | None:
    return await find_fresh(ctx.cache, lambda: ctx.records.application(OPERATIONAL_APP_ID))


async def _create_application(request: web.Request) -> None:
    ctx = request.app[API_CONTEXT]
    record = {"app_id": str(OPERATIONAL_APP_ID), "name": OPERATIONAL_APP_NAME, "uid": None, "rate_limit": None,
              "metadata": {}}  # fmt: skip
    await ctx.commands.upsert(
        APPLICATION, lambda: _reserved_application(ctx), lambda current: None if current is not None else record
    )


OPERATIONS = (
    _operational(endpoints.LIST, "v1.operational-webhook.endpoint.list", "List operational webhook endpoints"),
    _operational(endpoints.CREATE, "v1.operational-webhook.endpoint.create", "Create an operational webhook endpoint",
                 creates=True),
    _operational(endpoints.GET, "v1.operational-webhook.endpoint.get", "Get an operational webhook endpoint"),
    _operational(endpoints.UPDATE, "v1.operational-webhook.endpoint.update",
                 "Update an operational webhook endpoint (create it: the path is its uid)", creates=True),
    _operational(endpoints.DELETE, "v1.operational-webhook.endpoint.delete", "Delete an operational webhook endpoint"),
    _operational(endpoint_secrets.GET_SECRET, "v1.operational-webhook.endpoint.get-secret",
                 "An operational webhook endpoint's signing secret"),
    _operational(endpoint_secrets.ROTATE_SECRET, "v1.operational-webhook.endpoint.rotate-secret",
                 "A new signing secret for an operational webhook endpoint"),
    _operational(endpoint_headers.GET_HEADERS, "v1.operational-webhook.endpoint.get-headers",
                 "An operational webhook endpoint's custom headers"),
    _operational(endpoint_headers.SET_HEADERS, "v1.operational-webhook.endpoint.update-headers",
                 "Replace an operational webhook endpoint's custom headers"),
)  # fmt: skip

"""The Svix dialect under ``/api/v1``: one module per resource, merged here.

Every path answers with and without its trailing slash: the seed's generated
client sends ``.../endpoint/{endpoint_id}/``, the current svix SDK the same
path without the slash. Authentication and Svix-shaped errors apply to this
sub-application only. Every module declares its routes as ``OPERATIONS``
(``spec.Operation``); the same values validate input and feed ``/openapi.json``.
"""

from __future__ import annotations

from aiohttp import web

from hookstream.api import openapi
from hookstream.api.context import API_CONTEXT, ApiContext
from hookstream.api.idempotency import idempotent
from hookstream.api.requestid import install_log_filter, request_ids
from hookstream.api.spec import Operation, application, register
from hookstream.api.svix import (
    applications,
    attempts,
    authentication,
    background_tasks,
    endpoint_headers,
    endpoint_recovery,
    endpoint_secrets,
    endpoints,
    event_types,
    health,
    messages,
    operational,
    send_example,
    token_expiry,
)
from hookstream.api.svix.auth import OPERATION_IDS, bearer_auth, tenant_scope
from hookstream.api.svix.errors import Invalid, svix_errors
from hookstream.api.svix.ratelimit import RATE_LIMITER, limiter_for, rate_limit
from hookstream.api.svix.schemas import ERRORS, SCHEMAS
from hookstream.foundation.ops import HEALTH_CHECKS, METRICS, Check, Metrics

PREFIX = "/api/v1"
MODULES = (
    health, authentication, token_expiry, applications, endpoints, endpoint_secrets, endpoint_recovery,
    endpoint_headers, send_example, event_types, messages, attempts, operational, background_tasks,
)  # fmt: skip
# Headroom over the payload cap for the rest of the message body; anything larger is refused unread.
_BODY_OVERHEAD = 64 * 1024


def operations() -> list[Operation]:
    return [op for module in MODULES for op in module.OPERATIONS]


def dialect() -> openapi.Dialect:
    return openapi.Dialect("svix", PREFIX, operations(), schemas=SCHEMAS, errors=ERRORS)


def svix_app(ctx: ApiContext, checks: dict[str, Check], metrics: Metrics) -> web.Application:
    keyed = idempotent(ctx.idempotency, svix_errors, lambda problem: Invalid(["header", "idempotency-key"], problem))
    app = application(
        middlewares=[request_ids, svix_errors, bearer_auth, rate_limit, tenant_scope, keyed],
        client_max_size=ctx.settings.api_max_payload_bytes + _BODY_OVERHEAD,
    )
    app[API_CONTEXT] = ctx
    app[RATE_LIMITER] = limiter_for(ctx.settings)
    app[HEALTH_CHECKS] = checks
    app[METRICS] = metrics  # the parent's request counter reads it from the matched (sub-)application
    register(app, operations(), trailing_slash=True)
    # Routes are matched under the prefix the parent mounts this application at.
    app[OPERATION_IDS] = {(op.method, PREFIX + op.path): op.operation_id for op in operations()}
    return app


def mount(parent: web.Application, ctx: ApiContext, checks: dict[str, Check], metrics: Metrics) -> None:
    """Mount under ``/api/v1`` and list the dialect in the parent's OpenAPI document."""
    install_log_filter()
    parent.add_subapp(PREFIX, svix_app(ctx, checks, metrics))
    if openapi.DIALECTS not in parent:
        parent[openapi.DIALECTS] = []
    parent[openapi.DIALECTS].append(dialect())

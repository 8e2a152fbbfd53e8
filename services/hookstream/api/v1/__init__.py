"""The hookstream-native v1 dialect under ``/v1`` (seed 002): one module per resource, merged here.

Every module exposes ``OPERATIONS: list[Operation]`` (api/spec.py); listing
a module in ``MODULES`` is all it takes to route its operations, put them
behind v1's request ids, errors and authentication, and publish them in
``/openapi.json``.
"""

from __future__ import annotations

from aiohttp import web

from hookstream.api import openapi
from hookstream.api.context import API_CONTEXT, ApiContext
from hookstream.api.requestid import install_log_filter, request_ids
from hookstream.api.spec import Operation, register
from hookstream.api.v1 import analytics, bodies, messages
from hookstream.api.v1.auth import OPEN_HANDLERS, v1_auth
from hookstream.api.v1.bodies import BODY_LINKS, BodyLinks
from hookstream.api.v1.errors import v1_errors
from hookstream.api.v1.shapes import ERROR, SCHEMAS
from hookstream.domain.body_links import body_link_key
from hookstream.domain.schedule import parse_duration
from hookstream.foundation.ops import METRICS, Metrics

PREFIX = "/v1"
MODULES = (messages, bodies, analytics)


def operations() -> list[Operation]:
    return [op for module in MODULES for op in module.OPERATIONS]


def dialect() -> openapi.Dialect:
    return openapi.Dialect(
        name="v1",
        prefix=PREFIX,
        operations=operations(),
        schemas=SCHEMAS,
        errors={400: ERROR, 401: ERROR, 500: ERROR, 503: ERROR},
    )


def v1_app(ctx: ApiContext, metrics: Metrics) -> web.Application:
    ops = operations()
    app = web.Application(middlewares=[request_ids, v1_errors, v1_auth])
    app[API_CONTEXT] = ctx
    app[METRICS] = metrics  # the parent's request counter reads it from the matched (sub-)application
    app[OPEN_HANDLERS] = frozenset(op.handler for op in ops if not op.authenticated)
    app[BODY_LINKS] = BodyLinks(
        key=body_link_key(ctx.operator_token),
        ttl_s=parse_duration(ctx.settings.api_body_url_ttl),
        public_url=ctx.settings.api_public_url,
    )
    register(app, ops)
    return app


def mount(parent: web.Application, ctx: ApiContext, metrics: Metrics) -> None:
    """Mount under ``/v1`` and list the dialect in the parent's OpenAPI document."""
    install_log_filter()
    parent.add_subapp(PREFIX, v1_app(ctx, metrics))
    if openapi.DIALECTS not in parent:
        parent[openapi.DIALECTS] = []
    parent[openapi.DIALECTS].append(dialect())

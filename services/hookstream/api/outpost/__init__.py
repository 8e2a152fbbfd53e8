"""The Outpost dialect under ``/api/v1``: tenants, destinations, topics, publish, events, attempts, retry.

The Svix dialect is mounted at ``/api/v1`` too, with its own middlewares
(Svix error shapes, its auth, rate limit, idempotency keys). Outpost's
paths start with resource names Svix does not use, so each resource gets a
sub-application of its own at ``/api/v1/<resource>``: aiohttp resolves the
longest prefix first, so these requests never reach the Svix sub-app, and
Outpost's error shapes and auth apply to them alone. Every operation is a
``spec.Operation``; the same values feed ``/openapi.json``.
"""

from __future__ import annotations

from collections import defaultdict

from aiohttp import web

from hookstream.api import openapi
from hookstream.api.context import API_CONTEXT, ApiContext
from hookstream.api.outpost import attempts, destinations, events, health, publish, tenants, topics
from hookstream.api.outpost.auth import bearer_auth
from hookstream.api.outpost.errors import ERRORS, outpost_errors
from hookstream.api.outpost.shapes import SCHEMAS
from hookstream.api.requestid import install_log_filter, request_ids
from hookstream.api.spec import Operation
from hookstream.foundation.ops import HEALTH_CHECKS, METRICS, Check, Metrics

PREFIX = "/api/v1"
OPERATIONS: tuple[Operation, ...] = (
    *tenants.OPERATIONS, *destinations.OPERATIONS, *attempts.DESTINATION_OPERATIONS, *topics.OPERATIONS,
    *publish.OPERATIONS, *events.OPERATIONS, *attempts.OPERATIONS, *health.OPERATIONS,
)  # fmt: skip
DIALECT = openapi.Dialect("outpost", PREFIX, OPERATIONS, schemas=SCHEMAS, errors=ERRORS)
_BODY_OVERHEAD = 64 * 1024


def _resource(op: Operation) -> str:
    return "/" + op.path.split("/")[1]


def mount(parent: web.Application, ctx: ApiContext, checks: dict[str, Check], metrics: Metrics) -> None:
    """One sub-application per resource prefix, and the dialect listed for ``/openapi.json``."""
    grouped: dict[str, list[Operation]] = defaultdict(list)
    for op in OPERATIONS:
        grouped[_resource(op)].append(op)
    install_log_filter()
    for resource, ops in grouped.items():
        app = web.Application(middlewares=[request_ids, outpost_errors, bearer_auth],
                              client_max_size=ctx.settings.api_max_payload_bytes + _BODY_OVERHEAD)  # fmt: skip
        app[API_CONTEXT] = ctx
        app[HEALTH_CHECKS] = checks
        app[METRICS] = metrics  # the parent's request counter reads it from the matched (sub-)application
        for op in ops:
            app.router.add_route(op.method, op.path.removeprefix(resource), op.handler)
        parent.add_subapp(PREFIX + resource, app)
    if openapi.DIALECTS not in parent:
        parent[openapi.DIALECTS] = []
    parent[openapi.DIALECTS].append(DIALECT)

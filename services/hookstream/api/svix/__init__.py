"""The Svix dialect under ``/api/v1``: one module per resource, merged here.

Every path answers with and without its trailing slash: the seed's generated
client sends ``.../endpoint/{endpoint_id}/``, the current svix SDK the same
path without the slash. Authentication and Svix-shaped errors apply to this
sub-application only.
"""

from __future__ import annotations

from aiohttp import web

from hookstream.api.context import API_CONTEXT, ApiContext
from hookstream.api.svix import applications, attempts, endpoints, health, messages
from hookstream.api.svix.auth import bearer_auth
from hookstream.api.svix.errors import svix_errors
from hookstream.runtime.ops import HEALTH_CHECKS, METRICS, Check, Metrics

PREFIX = "/api/v1"
MODULES = (health, applications, endpoints, messages, attempts)
# Headroom over the payload cap for the rest of the message body; anything larger is refused unread.
_BODY_OVERHEAD = 64 * 1024


def svix_app(ctx: ApiContext, checks: dict[str, Check], metrics: Metrics) -> web.Application:
    app = web.Application(
        middlewares=[svix_errors, bearer_auth], client_max_size=ctx.settings.api_max_payload_bytes + _BODY_OVERHEAD
    )
    app[API_CONTEXT] = ctx
    app[HEALTH_CHECKS] = checks
    app[METRICS] = metrics  # the parent's request counter reads it from the matched (sub-)application
    for module in MODULES:
        for method, path, handler in module.ROUTES:
            app.router.add_route(method, path, handler)
            app.router.add_route(method, path + "/", handler)
    return app


def mount(parent: web.Application, ctx: ApiContext, checks: dict[str, Check], metrics: Metrics) -> None:
    parent.add_subapp(PREFIX, svix_app(ctx, checks, metrics))

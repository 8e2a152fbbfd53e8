"""The HTTP application: operational routes, and the API dialects when an API context is given."""

from __future__ import annotations

from aiohttp import web

from hookstream.api import console, openapi, outpost, svix, v1
from hookstream.api.context import ApiContext
from hookstream.api.outpost import health as outpost_health
from hookstream.foundation.ops import Check, Exposition, Metrics, add_ops_routes, count_requests


def build_app(
    checks: dict[str, Check],
    metrics: Metrics | None = None,
    api: ApiContext | None = None,
    federated: dict[str, Exposition] | None = None,
) -> web.Application:
    """``api`` mounts the dialects (Svix and Outpost under ``/api/v1``, v1 at ``/v1``) and the console at ``/console/``;
    else only /health, /metrics.

    ``federated``: other processes whose metrics this ``/metrics`` serves too.
    """
    metrics = metrics or Metrics()
    app = web.Application(middlewares=[count_requests])
    add_ops_routes(app, checks, metrics, federated)
    if api is not None:
        openapi.add_routes(app)
        svix.mount(app, api, checks, metrics)
        v1.mount(app, api, metrics)
        outpost.mount(app, api, checks, metrics)
        app.router.add_get(outpost_health.PATH, outpost_health.healthz)  # Outpost answers at the root too
        console.add_routes(app, api.settings)
    return app
